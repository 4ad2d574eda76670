package dev.quicfleet.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quicfleet.worker.site.AppJar;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The site file under a real supervisor: {@code --check-config FILE} answers {@code ok} or one error line without
 * starting anything (the packaged sample config included), and SIGHUP re-reads the file and the apps' jars with the
 * rolling reload, while a broken file on SIGHUP leaves the old workers serving. Client: curl over HTTP/2.
 */
class SiteReloadIT {

    @TempDir
    Path dir;

    private static String site(String greeting) {
        return """
                sites:
                  - hosts: [app.test]
                    routes:
                      - path: /
                        app: {jar: app.jar, class: com.example.Site}
                  - default: true
                    routes:
                      - path: /
                        respond: {body: "%s\\n"}
                """.formatted(greeting);
    }

    @Test
    void checkConfigSaysOkOrOneErrorLineAndStartsNothing() throws Exception {
        AppJar.build(dir.resolve("app.jar"), AppJar.greeter("v1"));
        Path good = Files.writeString(dir.resolve("good.yaml"), site("v1"));
        try (SupervisorProcess check = SupervisorProcess.launch(dir, "--check-config", good.toString())) {
            assertThat(check.awaitExit(Duration.ofSeconds(60))).as(check.stderr()).isZero();
            assertThat(check.stdout()).isEqualTo("ok");
        }
        Path bad = Files.writeString(dir.resolve("bad.yaml"), site("v1").replace("com.example.Site",
                "com.example.Gone"));
        try (SupervisorProcess check = SupervisorProcess.launch(dir, "--check-config", bad.toString())) {
            assertThat(check.awaitExit(Duration.ofSeconds(60))).isEqualTo(2);
            assertThat(check.stdout()).isEmpty();
            assertThat(check.stderr()).isEqualTo("error: sites[0].routes[0].app.class: com.example.Gone is not in "
                    + dir.resolve("app.jar") + " (expected: a class of the jar, by its binary name such as "
                    + "com.example.Site)");
        }
        // what the release ships (scripts/dist puts it in the tarball and the .deb)
        Path sample = SupervisorProcess.root().resolve("packaging/site.yaml");
        try (SupervisorProcess check = SupervisorProcess.launch(dir, "--check-config", sample.toString())) {
            assertThat(check.awaitExit(Duration.ofSeconds(60))).as(check.stderr()).isZero();
            assertThat(check.stdout()).isEqualTo("ok");
        }
    }

    @Test
    void checkConfigNamesABadClientCertificateOfAnUpstreamPool() throws Exception {
        Files.writeString(dir.resolve("client.pem"), "not a certificate\n");
        Files.writeString(dir.resolve("client-key.pem"), "not a key either\n");
        Path bad = Files.writeString(dir.resolve("mtls.yaml"), """
                sites:
                  - default: true
                    routes:
                      - path: /
                        upstream: {urls: https://127.0.0.1:8443, client-cert: client.pem, client-key: client-key.pem}
                """);
        try (SupervisorProcess check = SupervisorProcess.launch(dir, "--check-config", bad.toString())) {
            assertThat(check.awaitExit(Duration.ofSeconds(60))).isEqualTo(2);
            assertThat(check.stdout()).isEmpty();
            assertThat(check.stderr()).isEqualTo("error: sites[0].routes[0].upstream.client-cert: "
                    + dir.resolve("client.pem") + " (not PEM: no -----BEGIN CERTIFICATE----- block; expected: a PEM "
                    + "file with the client certificate, then its intermediates)");
        }
    }

    @Test
    void sighupServesTheChangedFileAndJarAndABrokenFileKeepsTheOldWorkers() throws Exception {
        Path jar = AppJar.build(dir.resolve("app.jar"), AppJar.greeter("app v1"));
        Path config = Files.writeString(dir.resolve("site.yaml"), site("site v1"));
        try (SupervisorProcess supervisor = SupervisorProcess.start(dir, "--workers", "1", "--metrics-address", "off",
                "--config", config.toString())) {
            int port = supervisor.port();
            assertThat(get(port, "other.test")).isEqualTo("site v1\n");
            assertThat(get(port, "app.test")).isEqualTo("app v1 at /\n");
            List<Long> before = supervisor.workerPids();

            Files.writeString(config, site("site v2"));
            AppJar.build(jar, AppJar.greeter("app v2"));
            hup(supervisor);
            awaitBody(supervisor, port, "other.test", "site v2\n", Duration.ofSeconds(60));
            assertThat(get(port, "app.test")).isEqualTo("app v2 at /\n");
            assertThat(supervisor.awaitStderr(l -> l.contains("reload complete"), Duration.ofSeconds(30))).isNotNull();
            for (long old : before) {
                // the replaced worker drains its (idle) connections and exits
                ProcessHandle.of(old).ifPresent(h -> h.onExit().orTimeout(30, TimeUnit.SECONDS).join());
            }
            List<Long> reloaded = supervisor.workerPids();
            assertThat(reloaded).hasSize(1).doesNotContainAnyElementsOf(before);

            Files.writeString(config, site("site v3").replace("respond: {body:", "respond: {bdy:"));
            hup(supervisor);
            String refused = supervisor.awaitStderr(l -> l.contains("reload refused"), Duration.ofSeconds(60));
            assertThat(refused).as(supervisor.stderr()).endsWith("reload refused, the workers keep serving with the "
                    + "previous configuration: sites[1].routes[0].respond: unknown key \"bdy\" (expected: one of "
                    + "status, body, content-type)");
            assertThat(get(port, "other.test")).isEqualTo("site v2\n");
            assertThat(get(port, "app.test")).isEqualTo("app v2 at /\n");
            // the refused replacement is gone, the serving worker is the same process
            assertThat(supervisor.workerPids()).isEqualTo(reloaded);
        }
    }

    private static void hup(SupervisorProcess supervisor) throws Exception {
        new ProcessBuilder("kill", "-HUP", Long.toString(supervisor.pid())).start().waitFor(10, TimeUnit.SECONDS);
    }

    /** Polls (bounded) until {@code host}'s body is {@code expected}: the reload replaces the worker meanwhile. */
    private static void awaitBody(SupervisorProcess supervisor, int port, String host, String expected,
                                  Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        String body = null;
        while (System.nanoTime() < deadline) {
            body = get(port, host);
            if (expected.equals(body)) {
                return;
            }
            TimeUnit.MILLISECONDS.sleep(100);
        }
        throw new AssertionError("still " + body + " after " + timeout + " instead of " + expected
                + "; the supervisor's log:\n" + supervisor.stderr());
    }

    /** The body of {@code GET https://host:port/} over HTTP/2 (curl), or the curl failure. */
    private static String get(int port, String host) throws Exception {
        Process curl = new ProcessBuilder("curl", "-sSk", "--http2", "--max-time", "10", "--resolve",
                host + ":" + port + ":127.0.0.1", "https://" + host + ":" + port + "/")
                .redirectErrorStream(true).start();
        String out = new String(curl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(curl.waitFor(20, TimeUnit.SECONDS)).isTrue();
        return out;
    }
}
