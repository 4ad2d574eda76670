package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quicfleet.http.Router;
import dev.quicfleet.metrics.UpstreamEjection;
import dev.quicfleet.metrics.UpstreamFailure;
import dev.quicfleet.proxy.ProxyConfig;
import dev.quicfleet.proxy.ProxyService;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Upstream health with Debian's nginx as the upstream: passive ejection after consecutive 5xx responses
 * ({@code --upstream-max-5xx}), and active health checks ({@code --upstream-health-path}) against a location that
 * answers 503 while a file exists (nginx's {@code if (-f ...)}), so the test turns the upstream's health off and on
 * without restarting it. What the client sees comes from curl; the upstream meters from the worker's own scrape.
 */
class UpstreamHealthIT {

    private static final String LOCATIONS = """
            location = /healthz {
              if (-f $DIR/down) { return 503 "down\\n"; }
              return 200 "ok\\n";
            }
            location /fives/ { return 503 "busy\\n"; }
            location / { return 200 "hello from nginx\\n"; }
            """;

    private static Path dir;
    private static Nginx nginx;
    private static ProxyService fives;
    private static ProxyService checked;
    private static Worker worker;

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("quicfleet-health-");
        nginx = Nginx.start(dir, "$request_method $request_uri|status=$status|", LOCATIONS);
        fives = new ProxyService(ProxyConfig.builder(nginx.url())
                .max5xx(2)
                .passiveHealth(3, Duration.ofMillis(500))
                .build());
        checked = new ProxyService(ProxyConfig.builder(nginx.url())
                .healthCheck("/healthz", Duration.ofMillis(200))
                .build());
        worker = new Worker(WorkerConfig.builder()
                .address(InetAddress.getLoopbackAddress())
                .port(0)
                .stateDir(dir.resolve("state"))
                .build(), Router.builder().route("/fives", fives).route("/", checked).build());
        fives.bindMetrics(worker.metrics().registry(), "fives");
        checked.bindMetrics(worker.metrics().registry(), "checked");
        worker.start().join();
        checked.startHealthChecks(worker.eventLoop());
    }

    @AfterAll
    static void stop() throws IOException {
        try {
            if (checked != null) {
                checked.close();
            }
            if (worker != null) {
                worker.stop().join();
            }
        } finally {
            if (nginx != null) {
                nginx.close();
            }
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    @Test
    void consecutive5xxEjectTheUpstreamAndItComesBackAfterTheBackOff() throws Exception {
        for (int i = 0; i < 2; i++) {
            assertThat(curl("/fives/" + i)).as("request %d", i).isEqualTo("busy\n503");
        }
        assertThat(curl("/fives/after")).as("ejected after two 5xx: the proxy answers itself")
                .isEqualTo("no healthy upstream\n503");
        assertThat(fives.metrics().ejections(0, UpstreamEjection.RESPONSE_5XX)).isEqualTo(1);
        assertThat(fives.metrics().failures(UpstreamFailure.NO_HEALTHY_UPSTREAM)).isEqualTo(1);
        assertThat(fives.metrics().responses(0, 5)).isEqualTo(2);
        await("the 0.5 s back-off passes", () -> !fives.upstreamStates().get(0).ejected());
        // After the back-off the next exchange goes upstream again; nginx still answers 503 there, so it is ejected
        // again at once (the count was not reset), for twice as long.
        assertThat(curl("/fives/again")).isEqualTo("busy\n503");
        assertThat(fives.upstreamStates().get(0).ejected()).isTrue();
        assertThat(fives.metrics().ejections(0, UpstreamEjection.RESPONSE_5XX)).isEqualTo(2);
        String scrape = worker.metrics().scrape(null).body();
        assertThat(scrape).contains("quicfleet_upstream_ejections_total{pool=\"fives\",reason=\"5xx\",transport=")
                .containsPattern("quicfleet_upstream_requests_total\\{pool=\"fives\",status_class=\"5xx\","
                        + "transport=\"[a-z_]+\",upstream=\"" + nginx.url() + "\",worker=\"0\"} 3.0")
                .containsPattern("quicfleet_upstream_failures_total\\{pool=\"fives\",reason=\"no_healthy_upstream\","
                        + "transport=\"[a-z_]+\",worker=\"0\"} 1.0");
    }

    @Test
    void aFailingHealthCheckEjectsTheUpstreamAndAPassingOneBringsItBack() throws Exception {
        assertThat(curl("/hello")).isEqualTo("hello from nginx\n200");
        assertThat(healthGauge()).isEqualTo("1.0");
        Path down = Files.writeString(dir.resolve("down"), "");
        try {
            await("the health check ejects the upstream", () -> checked.upstreamStates().get(0).ejected());
            assertThat(curl("/hello")).isEqualTo("no healthy upstream\n503");
            assertThat(healthGauge()).isEqualTo("0.0");
            assertThat(checked.metrics().ejections(0, UpstreamEjection.HEALTH_CHECK)).isEqualTo(1);
        } finally {
            Files.delete(down);
        }
        await("a passing check brings it back", () -> !checked.upstreamStates().get(0).ejected());
        assertThat(curl("/hello")).isEqualTo("hello from nginx\n200");
        assertThat(healthGauge()).isEqualTo("1.0");
        assertThat(nginx.accessLines()).as("the checks nginx saw")
                .anyMatch(l -> l.startsWith("GET /healthz|status=503|"))
                .anyMatch(l -> l.startsWith("GET /healthz|status=200|"));
    }

    // ---- helpers ----

    /** The value of {@code quicfleet_upstream_healthy} of the checked pool in the worker's scrape. */
    private static String healthGauge() {
        for (String line : worker.metrics().scrape(null).body().split("\n")) {
            if (line.startsWith("quicfleet_upstream_healthy{pool=\"checked\"")) {
                return line.substring(line.lastIndexOf(' ') + 1);
            }
        }
        throw new AssertionError("no quicfleet_upstream_healthy for pool checked");
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as(what).isLessThan(deadline);
            TimeUnit.MILLISECONDS.sleep(20);
        }
    }

    /** curl over HTTP/2: the body and the status code on a line of its own. */
    private static String curl(String path) throws Exception {
        List<String> command = new ArrayList<>(List.of("curl", "-sS", "--http2", "--max-time", "20", "--cacert",
                dir.resolve("state/dev-cert.pem").toString(), "-w", "%{http_code}",
                "https://localhost:" + worker.port() + path));
        Path out = Files.createTempFile(dir, "curl", ".out");
        Process process = new ProcessBuilder(command).redirectOutput(out.toFile())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try {
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                throw new AssertionError("curl " + command + " did not finish within 60 s");
            }
            return Files.readString(out);
        } finally {
            process.destroyForcibly();
            Files.deleteIfExists(out);
        }
    }
}
