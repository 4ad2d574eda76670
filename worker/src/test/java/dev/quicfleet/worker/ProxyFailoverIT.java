package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.quicfleet.http.Router;
import dev.quicfleet.proxy.ProxyConfig;
import dev.quicfleet.proxy.ProxyService;
import dev.quicfleet.worker.log.AccessLogFormat;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Failover with real parts: a worker proxies to a pool of two Debian nginx upstreams, {@code a} and {@code b}, each
 * on its own loopback port with its own access log, naming itself in its body and an {@code X-Upstream} header.
 * curl processes load the worker over HTTP/2, each sending its requests one after the other on one connection, and
 * the ngtcp2 client loads it over HTTP/3, {@value #H3_BATCH} concurrent requests per connection, one connection after
 * the other; every request has an id of its own ({@code id=...} in its path). Mid-load nginx {@code a} is killed
 * with SIGKILL (master and worker, by pid), later started again on the same port.
 *
 * <p>What shows what: curl's per-request line (status, exit code, the serving upstream) is what the clients got; the
 * two nginx access logs are what the upstreams processed (an id in both, or twice, would be a request sent again);
 * the worker's JSON access log says why each failed request failed; {@code quicfleet_upstream_healthy} in the
 * worker's scrape is the health the pool reports.
 */
class ProxyFailoverIT {

    /** Two clients POST (not idempotent: never sent again once it left), one GETs. */
    private static final List<String> CLIENTS = List.of("post0", "post1", "get0");
    /** Requests per HTTP/3 connection of the ngtcp2 client (GETs, concurrent; at most 8 in flight on a). */
    private static final int H3_BATCH = 8;
    private static final String LOG_FORMAT = "$request_method $request_uri|status=$status|";
    private static final String LOCATIONS = """
            location = /healthz { return 200 "ok\\n"; }
            location / {
              add_header X-Upstream %s always;
              return 200 "%1$s\\n";
            }
            """;

    /** On {@code a}, a request to these waits in nginx, which passes it on to the test's {@link #tap}. */
    private static final String HELD_ON_A = """
            location /post/held { proxy_pass http://127.0.0.1:%1$d; }
            location /held { proxy_pass http://127.0.0.1:%1$d; }
            """;

    private static Path dir;
    /** Accepts nginx {@code a}'s connections for held requests and never answers: a request there is in flight. */
    private static ServerSocket tap;
    private static final List<Socket> tapped = new CopyOnWriteArrayList<>();
    private static Nginx a;
    private static Nginx b;
    /** Two pools over the same two upstreams: POSTs go through {@code posts}, GETs through {@code gets}. */
    private static ProxyService posts;
    private static ProxyService gets;
    /** A third pool for held GETs only: the connection to a that a held GET takes is a new one. */
    private static ProxyService heldGets;
    private static Worker worker;

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("quicfleet-failover-");
        tap = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread.ofPlatform().daemon().name("tap").start(() -> {
            try {
                while (true) {
                    tapped.add(tap.accept());
                }
            } catch (IOException closed) {
                // the test is over
            }
        });
        a = Nginx.start(Files.createDirectories(dir.resolve("a")), LOG_FORMAT, locationsOfA());
        b = Nginx.start(Files.createDirectories(dir.resolve("b")), LOG_FORMAT, LOCATIONS.formatted("b"));
        posts = new ProxyService(ProxyConfig.builder(a.url(), b.url())
                .healthCheck("/healthz", Duration.ofMillis(200))
                .build());
        gets = new ProxyService(ProxyConfig.builder(a.url(), b.url())
                .healthCheck("/healthz", Duration.ofMillis(200))
                .build());
        heldGets = new ProxyService(ProxyConfig.builder(a.url(), b.url()).build());
        worker = new Worker(WorkerConfig.builder()
                .address(InetAddress.getLoopbackAddress())
                .port(0)
                .stateDir(dir.resolve("state"))
                .accessLog(dir.resolve("worker-access.log").toString(), AccessLogFormat.JSON)
                .build(), Router.builder().route("/post", posts).route("/held", heldGets).route("/", gets).build());
        posts.bindMetrics(worker.metrics().registry(), "posts");
        gets.bindMetrics(worker.metrics().registry(), "gets");
        heldGets.bindMetrics(worker.metrics().registry(), "held");
        worker.start().join();
        posts.startHealthChecks(worker.eventLoop());
        gets.startHealthChecks(worker.eventLoop());
    }

    @AfterAll
    static void stop() throws IOException {
        try {
            for (ProxyService proxy : new ProxyService[] {posts, gets, heldGets}) {
                if (proxy != null) {
                    proxy.close();
                }
            }
            if (worker != null) {
                worker.stop().join();
            }
        } finally {
            if (tap != null) {
                tap.close();
            }
            for (Socket socket : tapped) {
                socket.close();
            }
            for (Nginx nginx : new Nginx[] {a, b}) {
                if (nginx != null) {
                    nginx.close();
                }
            }
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    @Test
    void killingAnUpstreamMidLoadFailsOverSendsNothingTwiceEjectsItAndBringsItBack() throws Exception {
        List<Process> clients = new ArrayList<>();
        AtomicBoolean stop = new AtomicBoolean();
        List<Result> h3Results = new CopyOnWriteArrayList<>();
        Thread h3 = Thread.ofPlatform().name("h3-client").start(() -> h3Client(stop, h3Results));
        int restartedAt;
        int restartedLine;
        Process held = null;
        Process heldGet = null;
        try {
            for (String client : CLIENTS) {
                clients.add(startClient(client));
            }
            await("both upstreams serve the load", () -> served(a) >= 200 && served(b) >= 200, 30);
            assertThat(health(a)).isEqualTo("1.0");
            held = holdOnA("held", "/post/held", "--data-binary", "held");
            heldGet = holdOnA("held-get", "/held");

            a.kill();
            int bAtKill = served(b);
            await("the killed upstream is ejected", () -> health(a).equals("0.0"), 10);
            await("the other upstream takes the load", () -> served(b) >= bAtKill + 500, 20);
            assertThat(health(b)).isEqualTo("1.0");

            restartedAt = served(a);
            restartedLine = a.accessLines().size();
            a = Nginx.start(dir.resolve("a"), a.port(), LOG_FORMAT, locationsOfA());
            await("the restarted upstream is healthy again", () -> health(a).equals("1.0"), 10);
            await("the restarted upstream serves requests again", () -> served(a) >= restartedAt + 200, 20);
        } finally {
            stop.set(true);
            h3.join(TimeUnit.SECONDS.toMillis(30));
            for (Process p : new Process[] {held, heldGet}) {
                if (p != null && !p.waitFor(20, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                }
            }
            for (Process client : clients) {
                client.destroy(); // SIGTERM by pid; its last request is cut short and not counted
            }
            for (Process client : clients) {
                if (!client.waitFor(10, TimeUnit.SECONDS)) {
                    client.destroyForcibly();
                }
            }
        }

        List<Result> results = new ArrayList<>();
        for (String client : CLIENTS) {
            results.addAll(results(client));
        }
        assertThat(h3.isAlive()).as("the HTTP/3 client loop ended").isFalse();
        assertThat(h3Results).as("requests over HTTP/3").hasSizeGreaterThan(3 * H3_BATCH);
        results.addAll(h3Results);
        List<Result> failed = results.stream().filter(r -> !r.ok()).toList();
        Map<String, Integer> processed = new HashMap<>();
        List<String> aLines = a.accessLines();
        List<String> bLines = b.accessLines();
        for (String line : aLines) {
            count(processed, line);
        }
        for (String line : bLines) {
            count(processed, line);
        }
        List<String> bIds = bLines.stream().map(ProxyFailoverIT::id).toList();
        System.out.printf("failover: %d requests (%d over HTTP/3), %d failed %s; a processed %d, b %d%n%s%n",
                results.size(), h3Results.size(), failed.size(), failed, aLines.size(), bLines.size(),
                upstreamMetrics());

        // (a) Failover: every request succeeded but POSTs in flight on the killed upstream (never sent again once
        // their bytes left), at most one per POST client, and the worker's access log says why. A GET in flight
        // there had no response byte at the client yet: it was sent again, to b.
        assertThat(results.size()).as("requests the clients completed").isGreaterThan(1000);
        assertThat(failed).as("failed requests").hasSizeLessThanOrEqualTo(2)
                .allSatisfy(r -> assertThat(r.client()).as("a failed %s", r).startsWith("post"));
        for (Result r : failed) {
            JsonNode line = accessLogLine(r.path());
            assertThat(line.get("failure").asText()).as("why %s failed", r)
                    .startsWith("upstream_reset: upstream " + a.url());
            assertThat(line.get("upstream").asText()).isEqualTo(a.url());
        }
        assertThat(results).filteredOn(Result::ok).extracting(Result::upstream).containsOnly("a", "b");

        // (b) No POST was sent twice: no id in both upstreams' logs or twice in one; a failed request never reached b.
        // (A GET that an upstream closed on before answering may be sent again: RFC 9110 §9.2.2.)
        assertThat(processed).as("POSTs by id processed more than once").isNotEmpty()
                .allSatisfy((id, times) -> assertThat(times).as(id).isEqualTo(1));
        for (Result r : failed) {
            assertThat(bIds).as("the failed %s was not sent to b", r).doesNotContain(r.id());
        }
        // The POST held in nginx a when it was killed (its bytes had left, a had read them): the client got a 502,
        // and it was not sent to b, nor anywhere else.
        List<Result> heldResults = results("held");
        assertThat(heldResults).as("held POSTs").isNotEmpty();
        Result heldOnA = heldResults.get(heldResults.size() - 1);
        assertThat(heldOnA.status()).as("the held POST's status").isEqualTo(502);
        assertThat(accessLogLine(heldOnA.path()).get("failure").asText())
                .startsWith("upstream_reset: upstream " + a.url()).endsWith(" before the response head");
        assertThat(bIds).doesNotContain(heldOnA.id());
        assertThat(processed).doesNotContainKey(heldOnA.id());
        // The GET held in nginx a when it was killed, on a new connection: no response byte had reached the client,
        // so it was sent to b, which answered it.
        List<Result> heldGetResults = results("held-get");
        Result heldGetOnA = heldGetResults.get(heldGetResults.size() - 1);
        assertThat(heldGetOnA.ok()).as("the held GET %s", heldGetOnA).isTrue();
        assertThat(heldGetOnA.upstream()).isEqualTo("b");
        assertThat(bIds).contains(heldGetOnA.id());
        assertThat(accessLogLine(heldGetOnA.path()).get("upstream").asText()).isEqualTo(b.url());
        assertThat(upstreamMetrics()).containsPattern("quicfleet_upstream_retries_total\\{pool=\"held\","
                + "reason=\"upstream_reset\",transport=\"[a-z_]+\",worker=\"0\"} 1.0\n");
        // Nor was a POST sent again on a new connection after its bytes had left on one the upstream closed (that
        // retry is for idempotent requests only; a connect failure's retry sends nothing twice).
        assertThat(upstreamMetrics()).containsPattern("quicfleet_upstream_retries_total\\{pool=\"posts\","
                + "reason=\"stale_connection\",transport=\"[a-z_]+\",worker=\"0\"} 0.0\n");
        for (Result r : results) {
            if (r.ok() && r.upstream().equals("b")) {
                assertThat(bIds).as("b served %s", r).contains(r.id());
            }
        }

        // (c) The restarted upstream answered clients again (with its header), not only health checks.
        List<String> after = aLines.subList(restartedLine, aLines.size()).stream().map(ProxyFailoverIT::id).toList();
        assertThat(results).filteredOn(r -> r.ok() && after.contains(r.id()))
                .as("responses from the restarted a").isNotEmpty()
                .extracting(Result::upstream).containsOnly("a");
        for (String pool : List.of("posts", "gets")) {
            assertThat(upstreamMetrics()).containsPattern("quicfleet_upstream_ejections_total\\{pool=\"" + pool
                    + "\",reason=\"[a-z_5]+\",transport=\"[a-z_]+\",upstream=\"" + a.url() + "\",worker=\"0\"} [1-9]");
        }
    }

    // ---- helpers ----

    /** What curl reported for one request. */
    private record Result(String client, int status, int exit, String upstream, String path) {
        boolean ok() {
            return status == 200 && exit == 0;
        }

        String id() {
            return path.substring(path.indexOf("id=") + 3);
        }
    }

    /**
     * A curl process that sends requests to the worker one after the other over one HTTP/2 connection until it is
     * stopped, printing a line per request: status, exit code, the {@code X-Upstream} that answered, the URL.
     */
    private static Process startClient(String client) throws IOException {
        String path = (client.startsWith("post") ? "/post/" : "/") + client + "?id=" + client + "-[1-10000000]";
        return client.startsWith("post") ? curl(client, path, "--data-binary", "counted") : curl(client, path);
    }

    /** curl over HTTP/2 to the worker, appending a result line per request to {@code NAME.out}. */
    private static Process curl(String name, String path, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of("curl", "-sS", "--http2", "--cacert",
                dir.resolve("state/dev-cert.pem").toString(), "--max-time", "20", "-o", "/dev/null",
                "-w", "%{http_code}|%{exitcode}|%header{x-upstream}|%{url_effective}\\n"));
        command.addAll(List.of(args));
        command.add("https://localhost:" + worker.port() + path);
        return new ProcessBuilder(command)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve(name + ".out").toFile()))
                .redirectError(ProcessBuilder.Redirect.appendTo(dir.resolve(name + ".err").toFile()))
                .start();
    }

    private static String locationsOfA() {
        return HELD_ON_A.formatted(tap.getLocalPort()) + LOCATIONS.formatted("a");
    }

    /**
     * Sends requests to {@code path}, one at a time, until one is in flight on nginx {@code a} (its connection to the
     * {@link #tap} arrived); b answers the others at once. Returns that curl; its result goes to {@code NAME.out}.
     */
    private static Process holdOnA(String name, String path, String... args) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        for (int i = 0; ; i++) {
            int before = tapped.size();
            Process curl = curl(name, path + "?id=" + name + "-" + i, args);
            while (tapped.size() == before && curl.isAlive()) {
                assertThat(System.nanoTime()).as("a request to %s in flight on a", path).isLessThan(deadline);
                TimeUnit.MILLISECONDS.sleep(5);
            }
            if (tapped.size() > before) {
                return curl;
            }
        }
    }

    /**
     * Until {@code stop}: the ngtcp2 client GETs {@value #H3_BATCH} ids at once on one connection, then again on a new
     * one. What each got is the body it saved: {@code a} or {@code b} names the upstream; else it failed.
     */
    private static void h3Client(AtomicBoolean stop, List<Result> results) {
        try {
            for (int run = 0; !stop.get(); run++) {
                Path got = Files.createDirectories(dir.resolve("h3").resolve(Integer.toString(run)));
                List<String> paths = new ArrayList<>();
                for (int i = 0; i < H3_BATCH; i++) {
                    String id = "h3-" + run + "-" + i;
                    paths.add("/h3/id=" + id); // no query: the client names the file it saves by the last segment
                }
                Peers.Run ran = Peers.gtlsclient(worker.port(), List.of("-q", "--download", got.toString()),
                        Duration.ofSeconds(30), paths.toArray(String[]::new));
                for (String path : paths) {
                    Path body = got.resolve(path.substring("/h3/".length()));
                    String upstream = Files.exists(body) ? Files.readString(body).strip() : "";
                    boolean ok = upstream.equals("a") || upstream.equals("b");
                    results.add(new Result("h3", ok ? 200 : 0, ok ? 0 : -1, ok ? upstream : "", path));
                    if (!ok) {
                        System.out.printf("HTTP/3 %s got %s; files %s; gtlsclient: %s%n", path, upstream,
                                List.of(got.toFile().list()), ran.stderrText());
                    }
                }
            }
        } catch (IOException | InterruptedException e) {
            throw new AssertionError("the HTTP/3 client loop failed", e);
        }
    }

    /** A client's complete result lines (the one cut short when it was stopped is left out). */
    private static List<Result> results(String client) throws IOException {
        List<Result> results = new ArrayList<>();
        String text = Files.readString(dir.resolve(client + ".out"));
        for (String line : text.substring(0, text.lastIndexOf('\n') + 1).lines().toList()) {
            String[] f = line.split("\\|", -1);
            assertThat(f).as("curl's line %s", line).hasSize(4);
            String url = f[3];
            results.add(new Result(client, Integer.parseInt(f[0]), Integer.parseInt(f[1]), f[2],
                    url.substring(url.indexOf('/', "https://".length()))));
        }
        return results;
    }

    /** Requests of the clients an upstream's access log holds (not its health checks). */
    private static int served(Nginx nginx) throws IOException {
        return (int) nginx.accessLines().stream().filter(l -> l.contains("id=")).count();
    }

    private static void count(Map<String, Integer> processed, String line) {
        if (line.startsWith("POST ") && line.contains("id=")) {
            processed.merge(id(line), 1, Integer::sum);
        }
    }

    /** The id of an nginx access-log line ({@code METHOD /client?id=ID|status=...}), or the whole line. */
    private static String id(String line) {
        int start = line.indexOf("id=");
        return start < 0 ? line : line.substring(start + 3, line.indexOf('|'));
    }

    /**
     * {@code quicfleet_upstream_healthy} of {@code nginx} in the worker's scrape when the pools with health checks
     * ({@code posts}, {@code gets}) report the same value, else both values.
     */
    private static String health(Nginx nginx) {
        Set<String> values = new TreeSet<>();
        for (String line : upstreamMetrics().split("\n")) {
            if (line.startsWith("quicfleet_upstream_healthy{") && !line.contains("pool=\"held\"")
                    && line.contains("upstream=\"" + nginx.url() + "\"")) {
                values.add(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        assertThat(values).as("quicfleet_upstream_healthy for %s", nginx.url()).isNotEmpty();
        return String.join(" ", values);
    }

    private static String upstreamMetrics() {
        StringBuilder out = new StringBuilder();
        for (String line : worker.metrics().scrape(null).body().split("\n")) {
            if (line.startsWith("quicfleet_upstream_") && !line.contains("_bucket")) {
                out.append(line).append('\n');
            }
        }
        return out.toString();
    }

    /** The worker's access-log line for {@code path} (waits, bounded, for the writer). */
    private static JsonNode accessLogLine(String path) throws Exception {
        ObjectMapper json = new ObjectMapper();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            for (String line : AccessLogIT.completeLines(dir.resolve("worker-access.log"))) {
                JsonNode node = json.readTree(line);
                if (node.get("path").asText().equals(path)) {
                    return node;
                }
            }
            assertThat(System.nanoTime()).as("a worker access-log line for %s", path).isLessThan(deadline);
            TimeUnit.MILLISECONDS.sleep(50);
        }
    }

    private static void await(String what, Check condition, int seconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!condition.holds()) {
            assertThat(System.nanoTime()).as("%s within %d s", what, seconds).isLessThan(deadline);
            TimeUnit.MILLISECONDS.sleep(20);
        }
    }

    @FunctionalInterface
    private interface Check {
        boolean holds() throws Exception;
    }
}
