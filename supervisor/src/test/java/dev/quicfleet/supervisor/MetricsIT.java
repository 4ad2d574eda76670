package dev.quicfleet.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.DoublePredicate;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One Prometheus endpoint for the whole cluster, checked by promtool and by a real Prometheus server. */
class MetricsIT {

    private static final Pattern METRICS_URL = Pattern.compile("metrics: (http://[0-9.]+:\\d+/metrics)");
    private static final int REQUESTS = 40;

    @TempDir
    Path tmp;

    @Test
    void oneScrapeCountsEveryRequestOfEveryWorkerAndPassesPromtool() throws Exception {
        try (SupervisorProcess supervisor = SupervisorProcess.start(tmp, "--workers", "2",
                "--metrics-address", "127.0.0.1:0")) {
            URI metrics = metricsUri(supervisor);
            sendRequests(supervisor.port(), REQUESTS);
            String scrape = scrape(metrics, null);
            assertThat(sum(scrape, "quicfleet_http_requests_total")).isEqualTo(REQUESTS);
            assertThat(scrape).contains("worker=\"0\"").contains("worker=\"1\"");
            assertThat(count(scrape, "# TYPE quicfleet_http_requests_total ")).isEqualTo(1);
            assertThat(scrape).contains("quicfleet_workers_running 2.0").contains("quicfleet_build_info{");
            promtoolAccepts(scrape);
            assertThat(scrape(metrics, "application/openmetrics-text; version=1.0.0")).endsWith("# EOF\n");

            // Scraped while requests are in flight, the exposition is still valid.
            java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            Thread load = Thread.ofPlatform().start(() -> {
                for (int i = 0; i < 2000 && !stop.get(); i++) {
                    try {
                        sendRequests(supervisor.port(), 1);
                    } catch (Exception e) {
                        return;
                    }
                }
            });
            try {
                for (int i = 0; i < 3; i++) {
                    promtoolAccepts(scrape(metrics, null));
                }
            } finally {
                stop.set(true);
                load.join(30_000);
            }

            // A worker killed between two scrapes: the scrape still answers, and the restart is counted.
            long victim = supervisor.workerPids().get(0);
            ProcessHandle handle = ProcessHandle.of(victim).orElseThrow();
            handle.destroyForcibly();
            handle.onExit().get(10, TimeUnit.SECONDS);
            assertThat(scrape(metrics, null)).contains("quicfleet_build_info{");
            String after = awaitScrape(metrics, s -> sum(s, "quicfleet_worker_restarts_total") >= 1
                    && s.contains("quicfleet_workers_running 2.0"), Duration.ofSeconds(30));
            assertThat(after).containsPattern("quicfleet_worker_restarts_total\\{reason=\"killed\",worker=\"\\d\"} 1");
            promtoolAccepts(after);
        }
    }

    @Test
    void aRealPrometheusServerSeesEveryRequestOnBothWorkers() throws Exception {
        try (SupervisorProcess supervisor = SupervisorProcess.start(tmp, "--workers", "2",
                "--metrics-address", "127.0.0.1:0");
             RealPrometheus prometheus = RealPrometheus.scraping(metricsUri(supervisor), tmp)) {
            sendRequests(supervisor.port(), REQUESTS);
            URI api = prometheus.queryPrefix();
            double total = awaitQuery(api, "sum(quicfleet_http_requests_total)", v -> v == REQUESTS,
                    Duration.ofSeconds(60));
            assertThat(total).isEqualTo(REQUESTS);
            double workers = awaitQuery(api, "count(count by (worker) (quicfleet_http_requests_total))",
                    v -> v == 2, Duration.ofSeconds(30));
            assertThat(workers).isEqualTo(2);
        }
    }

    // ---- helpers ----

    private URI metricsUri(SupervisorProcess supervisor) throws InterruptedException {
        String line = supervisor.awaitStderr(l -> l.contains("metrics: http://"), Duration.ofSeconds(10));
        assertThat(line).as(supervisor.stderr()).isNotNull();
        Matcher m = METRICS_URL.matcher(line);
        assertThat(m.find()).isTrue();
        return URI.create(m.group(1));
    }

    /** {@code n} requests, each on a new HTTP/1.1 connection (so both workers get some). */
    private void sendRequests(int port, int n) throws Exception {
        SSLContext ssl = trust();
        for (int i = 0; i < n; i++) {
            HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).sslContext(ssl).build();
            HttpResponse<String> response = client.send(HttpRequest.newBuilder(
                    URI.create("https://localhost:" + port + "/healthz")).timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(response.statusCode()).isEqualTo(200);
        }
    }

    private static String scrape(URI metrics, String accept) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(metrics).timeout(Duration.ofSeconds(10));
        if (accept != null) {
            request.header("accept", accept);
        }
        HttpResponse<String> response = HttpClient.newHttpClient().send(request.build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(200);
        return response.body();
    }

    private static String awaitScrape(URI metrics, Predicate<String> done, Duration timeout)
            throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        String last = "";
        Object monitor = new Object();
        while (System.nanoTime() < deadline) {
            last = scrape(metrics, null);
            if (done.test(last)) {
                return last;
            }
            synchronized (monitor) {
                monitor.wait(200);
            }
        }
        throw new AssertionError("scrape never matched within " + timeout + ":\n" + last);
    }

    private static double awaitQuery(URI api, String query, DoublePredicate done,
                                     Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        URI uri = URI.create(api + URLEncoder.encode(query, StandardCharsets.UTF_8));
        double value = Double.NaN;
        Object monitor = new Object();
        while (System.nanoTime() < deadline) {
            try {
                HttpResponse<String> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(uri)
                        .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
                JsonNode result = new ObjectMapper().readTree(response.body()).path("data").path("result");
                if (result.size() == 1) {
                    value = Double.parseDouble(result.get(0).path("value").get(1).asText());
                    if (done.test(value)) {
                        return value;
                    }
                }
            } catch (java.io.IOException e) {
                // Prometheus still starting
            }
            synchronized (monitor) {
                monitor.wait(250);
            }
        }
        throw new AssertionError(query + " never matched within " + timeout + " (last value " + value + ")");
    }

    private static double sum(String scrape, String family) {
        return scrape.lines().filter(l -> l.startsWith(family + "{") || l.startsWith(family + " "))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }

    private static long count(String text, String needle) {
        return text.lines().filter(l -> l.startsWith(needle)).count();
    }

    private void promtoolAccepts(String scrape) throws Exception {
        Path file = Files.writeString(tmp.resolve("scrape.txt"), scrape);
        Process promtool = new ProcessBuilder("/usr/bin/promtool", "check", "metrics")
                .redirectInput(file.toFile()).redirectErrorStream(true).start();
        String output = new String(promtool.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(promtool.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(promtool.exitValue()).as(output).isZero();
        assertThat(output).isBlank();
    }

    private SSLContext trust() throws Exception {
        return TestTls.trusting(tmp.resolve("state/dev-cert.pem"));
    }

}
