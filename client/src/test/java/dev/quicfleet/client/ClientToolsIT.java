package dev.quicfleet.client;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.quicfleet.worker.ClientTestWorker;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The command-line tools as a user runs them: ./scripts/h3 and ./scripts/h3load, as processes. */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class ClientToolsIT {

    @TempDir
    Path tmp;

    record Result(int exit, String stdout, String stderr) {
    }

    private static Path root() {
        return Path.of(System.getProperty("quicfleet.root", "..")).toAbsolutePath().normalize();
    }

    private Result script(String name, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(root().resolve("scripts").resolve(name).toString());
        command.addAll(List.of(args));
        Path out = tmp.resolve(name + ".out");
        Path err = tmp.resolve(name + ".err");
        ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        Process p = pb.start();
        try {
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                throw new AssertionError(name + " did not finish within 120s; stderr: " + Files.readString(err));
            }
        } finally {
            p.destroyForcibly();
        }
        return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
    }

    @Test
    void h3VerboseTellsResumptionAndEarlyDataAndTheHeaders() throws Exception {
        try (ClientTestWorker worker = ClientTestWorker.start()) {
            String url = "https://localhost:" + worker.port() + "/whoami";
            String cert = worker.certificate().toString();
            String session = tmp.resolve("session").toString();
            Result first = script("h3", "-v", "--cacert", cert, "--session-file", session, "--early-data", url);
            assertThat(first.exit()).as(first.stderr()).isZero();
            assertThat(first.stdout()).contains("\"protocol\" : \"h3\"");
            assertThat(first.stderr()).contains("* protocol: h3 over QUIC, TLSv1.3")
                    .contains("TLS session new (no stored ticket)")
                    .contains("* early data: not sent (no stored ticket)")
                    .contains("< HTTP/3 200")
                    .contains("< content-type: application/json")
                    .containsPattern("\\* rtt \\d+\\.\\d+ ms")
                    .contains("* session ticket: received, stored in " + session);

            Result second = script("h3", "-v", "--cacert", cert, "--session-file", session, "--early-data", url);
            assertThat(second.exit()).as(second.stderr()).isZero();
            assertThat(second.stderr()).contains("TLS session resumed");
            assertThat(second.stdout()).contains("\"tlsResumed\" : true");
            if (second.stdout().contains("\"earlyData\" : true")) {
                assertThat(second.stderr()).contains("* early data: sent, accepted");
            } else {
                assertThat(second.stderr()).doesNotContain("accepted")
                        .containsPattern("\\* early data: (not sent|sent, rejected)");
            }
        }
    }

    @Test
    void h3loadCountsAgreeWithTheServersLog() throws Exception {
        try (Gtlsserver server = Gtlsserver.start()) {
            Files.write(server.file("1k.bin"), new byte[1024]);
            Result r = script("h3load", "-n", "2000", "-c", "4", "-m", "8", "--json", "--cacert",
                    server.certificate().toString(), "https://localhost:" + server.port() + "/1k.bin");
            assertThat(r.exit()).as(r.stderr()).isZero();
            JsonNode report = new ObjectMapper().readTree(r.stdout());
            assertThat(report.at("/requests/done").asLong()).isEqualTo(2000);
            assertThat(report.at("/requests/failed").asLong()).isZero();
            assertThat(report.at("/statusCodes/200").asLong()).isEqualTo(2000);
            assertThat(report.at("/requests/bodyBytes").asLong()).isEqualTo(2000 * 1024L);
            assertThat(report.at("/handshakes/total").asLong()).isEqualTo(4);
            assertThat(report.at("/latencyMs/p99").asDouble()).isPositive();
            assertThat(report.at("/cpu/seconds").asDouble()).isPositive();
            // the server's own record: one log line per request it served
            assertThat(server.requestsLogged("/1k.bin")).isEqualTo(2000);
            assertThat(r.stderr()).doesNotContain("Exception");
        }
    }

    @Test
    void h3loadResumesAndSendsEarlyDataOnNewConnections() throws Exception {
        try (Gtlsserver server = Gtlsserver.start()) {
            Files.writeString(server.file("a.txt"), "a");
            Result r = script("h3load", "-n", "100", "-c", "2", "--new-connection-per-request", "--early-data",
                    "--json", "--cacert", server.certificate().toString(),
                    "https://localhost:" + server.port() + "/a.txt");
            assertThat(r.exit()).as(r.stderr()).isZero();
            JsonNode report = new ObjectMapper().readTree(r.stdout());
            assertThat(report.at("/requests/done").asLong()).isEqualTo(100);
            assertThat(report.at("/handshakes/total").asLong()).isEqualTo(100);
            assertThat(report.at("/handshakes/resumedPercent").asDouble()).isEqualTo(100.0);
            assertThat(report.at("/handshakes/earlyDataPercent").asDouble()).isEqualTo(100.0);
            // 100 counted requests plus the priming connection's one
            assertThat(server.requestsLogged("/a.txt")).isEqualTo(101);
        }
    }
}
