package dev.quicfleet.client;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Locale;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The supervisor's status page in a real browser during a load run: headless Chromium takes a screenshot of
 * {@code /} while h3load sends resumed 0-RTT connections to a 2-worker cluster, and the charts' plot areas in that
 * PNG must hold drawn series above their zero line (the same check on a screenshot taken before the load finds
 * none); the slot table the page shows must be what {@code supervisor status} prints, after one worker was killed
 * and respawned so that the table has something to tell.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class StatusPageIT {

    private static final String CHROMIUM = "/usr/bin/chromium";
    private static final Pattern METRICS_URL = Pattern.compile("metrics: (http://[0-9.]+:\\d+)/metrics");
    private static final Pattern ROW = Pattern.compile("<tr data-line=\"[^\"]*\">((?:<td>[^<]*</td>)+)</tr>");
    private static final Pattern CELL = Pattern.compile("<td>([^<]*)</td>");
    private static final Pattern SLOT_LINE = Pattern.compile(
            "slot (\\d+) pid (\\S+) state (\\S+) uptime (\\S+) restarts (\\d+) last-exit (.*)");
    private static final int WIDTH = 1240;
    private static final int HEIGHT = 1300;

    @TempDir
    Path tmp;

    @Test
    void chartsDrawTheLoadAndTheSlotTableMatchesSupervisorStatus() throws Exception {
        if (!Files.isExecutable(Path.of(CHROMIUM))) {
            throw new IllegalStateException("chromium is not installed: run ./scripts/install-test-deps");
        }
        try (ClientTestCluster cluster = ClientTestCluster.start(tmp, "--workers", "2")) {
            String line = cluster.awaitStderr(l -> METRICS_URL.matcher(l).find(), Duration.ofSeconds(10));
            assertThat(line).as(cluster.stderr()).isNotNull();
            Matcher url = METRICS_URL.matcher(line);
            url.find();
            URI page = URI.create(url.group(1) + "/");

            // The page's own files only; no other file of the jar, no other method.
            assertThat(get(page, "GET", "/vendor/uplot/uPlot.iife.min.js")).startsWith("200 text/javascript");
            assertThat(get(page, "GET", "/")).startsWith("200 text/html");
            assertThat(get(page, "GET", "/logback.xml")).startsWith("404 ");
            assertThat(get(page, "GET", "/vendor/../../../logback.xml")).startsWith("404 ");
            assertThat(get(page, "GET", "/dev/quicfleet/supervisor/MetricsEndpoint.class")).startsWith("404 ");
            assertThat(get(page, "POST", "/")).startsWith("405 ");

            // Before any load: samples exist, all rates are 0, and the plot areas have nothing above the zero line.
            awaitStatus(page, s -> s.path("samples").size() >= 2, Duration.ofSeconds(30));
            Screen idle = screen(page, "idle");
            for (String chart : List.of("requests", "handshakes")) {
                assertThat(idle.drawnAboveZero(chart)).as("%s chart before any request (%s)", chart, idle.png)
                        .isZero();
            }

            Process h3load = new ProcessBuilder(root().resolve("scripts/h3load").toString(), "-c", "2",
                    "--new-connection-per-request", "--resume", "--early-data", "-D", "120s", "--no-progress",
                    "--cacert", cluster.certificate().toString(), "https://localhost:" + cluster.port() + "/")
                    .redirectOutput(tmp.resolve("h3load.out").toFile()).redirectError(tmp.resolve("h3load.err")
                            .toFile()).start();
            try {
                // Load shows in the supervisor's own samples...
                awaitStatus(page, s -> recent(s, "requests", 3) && recent(s, "handshakes_resumed", 3),
                        Duration.ofSeconds(90));
                // ...and a worker killed under load is respawned into its slot; the table then has a restart.
                long victim = cluster.workerPids().getFirst();
                ProcessHandle.of(victim).orElseThrow().destroyForcibly();
                JsonNode status = awaitStatus(page, s -> {
                    JsonNode slots = s.path("slots");
                    int restarted = 0;
                    for (JsonNode slot : slots) {
                        restarted += slot.path("restarts").asInt() == 1 && slot.path("state").asText()
                                .equals("ready") ? 1 : 0;
                    }
                    // (h3load's connections to the killed worker may stall for a while: the charts keep the load
                    // drawn before the kill, so no need to wait for new requests)
                    return slots.size() == 2 && restarted == 1 && s.path("samples").size() > 0
                            && s.path("samples").get(s.path("samples").size() - 1).path("workersRunning").asInt() == 2;
                }, Duration.ofSeconds(120));
                assertThat(status.path("slotsError").isMissingNode()).isTrue();

                Screen loaded = screen(page, "load");
                List<List<String>> supervisorStatus = supervisorStatus(tmp.resolve("control.sock"));

                for (String chart : List.of("requests", "handshakes")) {
                    System.out.printf("StatusPageIT: %s chart: %d points, %d series pixels above zero (idle: %d)%n",
                            chart, loaded.points(chart), loaded.drawnAboveZero(chart), idle.drawnAboveZero(chart));
                    assertThat(loaded.points(chart)).as(chart + " points").isGreaterThanOrEqualTo(5);
                    assertThat(loaded.drawnAboveZero(chart)).as("pixels of the %s chart's series above its zero "
                            + "line (%s)", chart, loaded.png).isGreaterThan(100);
                }
                // The table the browser shows is the supervisor's slot table: same slots, pids, states, restarts
                // and last exits (uptimes are read a moment apart).
                assertThat(loaded.slots).hasSize(2);
                assertThat(supervisorStatus).hasSize(2);
                for (int i = 0; i < 2; i++) {
                    List<String> shown = loaded.slots.get(i);
                    List<String> printed = supervisorStatus.get(i);
                    assertThat(List.of(shown.get(0), shown.get(1), shown.get(2), shown.get(4), shown.get(5)))
                            .as("row %d", i).isEqualTo(List.of(printed.get(0), printed.get(1), printed.get(2),
                                    printed.get(4), printed.get(5)));
                    long shownUptime = Long.parseLong(shown.get(3).replace("s", ""));
                    long printedUptime = Long.parseLong(printed.get(3).replace("s", ""));
                    assertThat(printedUptime - shownUptime).isBetween(0L, 30L);
                }
                assertThat(loaded.slots).anySatisfy(row -> {
                    assertThat(row.get(4)).isEqualTo("1");
                    assertThat(row.get(5)).isEqualTo("killed (SIGKILL)");
                    assertThat(row.get(1)).isNotEqualTo(Long.toString(victim));
                });
            } finally {
                h3load.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
                h3load.toHandle().destroyForcibly();
                h3load.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    /** A screenshot of the page and its DOM at the same window size (two loads: the layout is the same). */
    private Screen screen(URI page, String name) throws Exception {
        Path png = tmp.resolve(name + ".png");
        chromium(page, "--screenshot=" + png);
        String dom = chromium(page, "--dump-dom");
        // kept for a look after the run (a failure names it)
        Path kept = Files.copy(png, Files.createDirectories(Path.of("target")).resolve("status-page-" + name + ".png"),
                StandardCopyOption.REPLACE_EXISTING);
        return new Screen(ImageIO.read(kept.toFile()), kept.toAbsolutePath(), dom);
    }

    private record Screen(BufferedImage image, Path png, String dom, List<List<String>> slots) {
        Screen(BufferedImage image, Path png, String dom) {
            this(image, png, dom, slots(dom));
        }

        private static List<List<String>> slots(String dom) {
            List<List<String>> rows = new ArrayList<>();
            Matcher row = ROW.matcher(dom);
            while (row.find()) {
                List<String> cells = new ArrayList<>();
                Matcher cell = CELL.matcher(row.group(1));
                while (cell.find()) {
                    cells.add(cell.group(1));
                }
                rows.add(cells);
            }
            return rows;
        }

        private String attribute(String chart, String name) {
            Matcher tag = Pattern.compile("<div[^>]*id=\"chart-" + chart + "\"[^>]*>").matcher(dom);
            assertThat(tag.find()).as("chart %s in the page:\n%s", chart, dom).isTrue();
            Matcher value = Pattern.compile(name + "=\"([^\"]*)\"").matcher(tag.group());
            assertThat(value.find()).as("%s of chart %s", name, chart).isTrue();
            return value.group(1);
        }

        int points(String chart) {
            return Integer.parseInt(attribute(chart, "data-points"));
        }

        /**
         * Pixels of a series' colour (saturated: axes, grid and text are grey or black) in the upper 85% of the
         * chart's plot area: a line at 0 (no data) lies on the bottom edge and counts nothing.
         */
        int drawnAboveZero(String chart) {
            String[] rect = attribute(chart, "data-plot").split(",");
            int left = Integer.parseInt(rect[0]);
            int top = Integer.parseInt(rect[1]);
            int width = Integer.parseInt(rect[2]);
            int height = Integer.parseInt(rect[3]);
            assertThat(left + width).isLessThanOrEqualTo(image.getWidth());
            assertThat(top + height).isLessThanOrEqualTo(image.getHeight());
            int count = 0;
            for (int y = top; y < top + height * 85 / 100; y++) {
                for (int x = left; x < left + width; x++) {
                    int rgb = image.getRGB(x, y);
                    int r = (rgb >> 16) & 0xff;
                    int g = (rgb >> 8) & 0xff;
                    int b = rgb & 0xff;
                    if (Math.max(r, Math.max(g, b)) - Math.min(r, Math.min(g, b)) > 60) {
                        count++;
                    }
                }
            }
            return count;
        }
    }

    private String chromium(URI page, String action) throws Exception {
        Path profile = Files.createTempDirectory(tmp, "chromium");
        List<String> command = List.of(CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                "--user-data-dir=" + profile, "--window-size=" + WIDTH + "," + HEIGHT, "--hide-scrollbars",
                "--force-device-scale-factor=1", "--virtual-time-budget=5000", action, page.toString());
        Process process = new ProcessBuilder(command).redirectError(tmp.resolve("chromium.err").toFile()).start();
        process.getOutputStream().close();
        try {
            byte[] out = process.getInputStream().readAllBytes();
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                throw new AssertionError("chromium did not finish within 60s");
            }
            assertThat(process.exitValue()).as(Files.readString(tmp.resolve("chromium.err"))).isZero();
            return new String(out, StandardCharsets.UTF_8);
        } finally {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
        }
    }

    /**
     * {@code supervisor status}, split into the table's columns: the command {@code ./scripts/supervisor status}
     * execs (the script itself would rebuild when sources are newer than the jar, as in a reactor build).
     */
    private static List<List<String>> supervisorStatus(Path controlSocket) throws Exception {
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "@" + root().resolve("scripts/jvm/base.options")));
        if (Runtime.version().feature() >= 23) {
            command.add("@" + root().resolve("scripts/jvm/jdk23.options"));
        }
        command.addAll(List.of("-jar", System.getProperty("quicfleet.supervisor.jar",
                root().resolve("supervisor/target/quicfleet-supervisor.jar").toString()), "status",
                "--control-socket", controlSocket.toString()));
        Process status = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(status.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(status.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(status.exitValue()).as(out).isZero();
        List<List<String>> rows = new ArrayList<>();
        for (String line : out.lines().toList()) {
            Matcher m = SLOT_LINE.matcher(line);
            if (m.matches()) {
                rows.add(List.of(m.group(1), m.group(2), m.group(3), m.group(4), m.group(5), m.group(6)));
            }
        }
        return rows;
    }

    /** Status and content type of a request for {@code rawPath}, sent as is (not normalised). */
    private static String get(URI page, String method, String rawPath) throws Exception {
        try (Socket socket = new Socket(page.getHost(), page.getPort())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write((method + " " + rawPath + " HTTP/1.1\r\nhost: " + page.getHost()
                    + "\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            String response = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            String status = response.lines().findFirst().orElse("").replaceFirst("^HTTP/1.1 (\\d+).*", "$1");
            String type = response.lines().takeWhile(l -> !l.isEmpty())
                    .filter(l -> l.toLowerCase(Locale.ROOT).startsWith("content-type:"))
                    .map(l -> l.substring("content-type:".length()).trim()).findFirst().orElse("-");
            return status + " " + type;
        }
    }

    /** Whether each of the last {@code n} samples has {@code key} above 0. */
    private static boolean recent(JsonNode status, String key, int n) {
        JsonNode samples = status.path("samples");
        if (samples.size() < n) {
            return false;
        }
        for (int i = samples.size() - n; i < samples.size(); i++) {
            if (!(samples.get(i).path(key).asDouble() > 0)) {
                return false;
            }
        }
        return true;
    }

    private static JsonNode awaitStatus(URI page, Predicate<JsonNode> done, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        JsonNode last = null;
        Object monitor = new Object();
        while (System.nanoTime() < deadline) {
            try (HttpClient http = HttpClient.newHttpClient()) {
                HttpResponse<String> response = http.send(HttpRequest.newBuilder(page.resolve("/status.json"))
                        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(response.statusCode()).isEqualTo(200);
                last = new ObjectMapper().readTree(response.body());
                if (done.test(last)) {
                    return last;
                }
            } catch (IOException e) {
                // the next try decides
            }
            synchronized (monitor) {
                monitor.wait(500);
            }
        }
        throw new AssertionError("status.json never matched within " + timeout + "; last: " + last);
    }

    private static Path root() {
        return Path.of(System.getProperty("quicfleet.root", "..")).toAbsolutePath().normalize();
    }
}
