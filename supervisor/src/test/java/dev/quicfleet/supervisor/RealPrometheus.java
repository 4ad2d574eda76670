package dev.quicfleet.supervisor;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A real Prometheus server (Debian's package, installed by scripts/install-test-deps) that scrapes one metrics
 * endpoint every second, with its storage and log in a test's directory; closing it kills it by its pid.
 */
final class RealPrometheus implements AutoCloseable {

    private static final Path BINARY = Path.of("/usr/bin/prometheus");

    private final Process process;
    private final URI api;

    private RealPrometheus(Process process, URI api) {
        this.process = process;
        this.api = api;
    }

    /** Starts it in {@code dir}, scraping {@code metrics} (host and port of the cluster's metrics address). */
    static RealPrometheus scraping(URI metrics, Path dir) throws IOException {
        if (!Files.isExecutable(BINARY)) {
            throw new IllegalStateException("prometheus is not installed: run ./scripts/install-test-deps");
        }
        int webPort;
        try (ServerSocket probe = new ServerSocket(0)) {
            webPort = probe.getLocalPort();
        }
        Path config = Files.writeString(dir.resolve("prometheus.yml"), """
                global:
                  scrape_interval: 1s
                  scrape_timeout: 900ms
                scrape_configs:
                  - job_name: quicfleet
                    static_configs:
                      - targets: ["%s:%d"]
                """.formatted(metrics.getHost(), metrics.getPort()));
        Process process = new ProcessBuilder(BINARY.toString(), "--config.file=" + config,
                "--storage.tsdb.path=" + dir.resolve("tsdb"), "--web.listen-address=127.0.0.1:" + webPort)
                .redirectErrorStream(true).redirectOutput(dir.resolve("prometheus.log").toFile()).start();
        return new RealPrometheus(process, URI.create("http://127.0.0.1:" + webPort + "/api/v1/query?query="));
    }

    /** The instant-query URL, to be followed by a URL-encoded PromQL expression. */
    URI queryPrefix() {
        return api;
    }

    @Override
    public void close() throws InterruptedException {
        process.toHandle().destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }
}
