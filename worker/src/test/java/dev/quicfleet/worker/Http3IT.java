package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** HTTP/3 against a real worker process, with the independent ngtcp2 client (GnuTLS, not quiche/BoringSSL). */
class Http3IT {

    @RegisterExtension
    static RunningWorker worker = new RunningWorker();

    @Test
    void whoamiOverHttp3SaysH3() throws Exception {
        Path dir = worker.scratch("whoami");
        Peers.Run run = Peers.gtlsclient(worker.port(), List.of("-q", "--download", dir.toString()),
                Duration.ofSeconds(30), "/whoami");
        assertThat(dir.resolve("whoami")).as("gtlsclient stderr: %s", run.stderrText()).exists();
        JsonNode whoami = new ObjectMapper().readTree(dir.resolve("whoami").toFile());
        assertThat(whoami.get("protocol").asText()).isEqualTo("h3");
        assertThat(whoami.get("worker").asInt()).isZero();
        assertThat(whoami.get("pid").asLong()).isEqualTo(worker.process().pid());
        assertThat(whoami.get("transport").asText()).isEqualTo(worker.process().transport());
        assertThat(whoami.get("remote").asText()).startsWith("127.0.0.1:");
        assertThat(whoami.has("tlsResumed")).isTrue();
        assertThat(whoami.get("earlyData").asBoolean()).isFalse();
    }

    @Test
    void hundredMegabyteDownloadArrivesComplete() throws Exception {
        Path dir = worker.scratch("download");
        Peers.Run run = Peers.gtlsclient(worker.port(), List.of("-q", "--download", dir.toString()),
                Duration.ofSeconds(120), "/bytes/104857600");
        Path file = dir.resolve("104857600");
        assertThat(run.stderrText()).doesNotContain("ERR_");
        assertThat(Files.size(file)).isEqualTo(104_857_600L);
        // The content is the demo's a..z pattern restarting every 64 KiB: check every byte.
        byte[] pattern = new byte[64 * 1024];
        for (int i = 0; i < pattern.length; i++) {
            pattern[i] = (byte) ('a' + i % 26);
        }
        try (var in = Files.newInputStream(file)) {
            byte[] chunk = new byte[pattern.length];
            for (int read; (read = in.readNBytes(chunk, 0, chunk.length)) > 0; ) {
                assertThat(java.util.Arrays.equals(chunk, 0, read, pattern, 0, read)).isTrue();
            }
        }
    }

    @Test
    void echoReturnsTheSameTwentyMegabytes() throws Exception {
        Path body = worker.file("upload.bin");
        byte[] data = new byte[20_000_000];
        new Random(42).nextBytes(data);
        Files.write(body, data);
        Path dir = worker.scratch("echo");
        Peers.Run run = Peers.gtlsclient(worker.port(), List.of("-q", "-m", "POST", "-d", body.toString(),
                "--download", dir.toString()), Duration.ofSeconds(120), "/echo");
        assertThat(run.stderrText()).doesNotContain("ERR_");
        byte[] echoed = Files.readAllBytes(dir.resolve("echo"));
        assertThat(echoed.length).isEqualTo(data.length);
        assertThat(MessageDigest.getInstance("SHA-256").digest(echoed))
                .isEqualTo(MessageDigest.getInstance("SHA-256").digest(data));
    }

    @Test
    void secondConnectionWithTheTicketIsReportedAsResumed() throws Exception {
        Path session = worker.file("session.pem");
        Path params = worker.file("transport-params.pem");
        Path first = worker.scratch("first");
        Path second = worker.scratch("second");
        Peers.gtlsclient(worker.port(), List.of("-q", "--wait-for-ticket", "--session-file=" + session,
                "--tp-file=" + params, "--download", first.toString()), Duration.ofSeconds(30), "/whoami");
        Peers.gtlsclient(worker.port(), List.of("-q", "--session-file=" + session, "--tp-file=" + params,
                "--download", second.toString()), Duration.ofSeconds(30), "/whoami");
        ObjectMapper json = new ObjectMapper();
        assertThat(json.readTree(first.resolve("whoami").toFile()).get("tlsResumed").asBoolean()).isFalse();
        assertThat(json.readTree(second.resolve("whoami").toFile()).get("tlsResumed").asBoolean()).isTrue();
    }

    /**
     * Under packet loss every response still ends: the FIN travels with the last bytes, so it is retransmitted with
     * them (a FIN sent alone was lost for good in quiche once the data was acknowledged, and the client waited for
     * its idle timeout).
     */
    @Test
    void responsesCompleteUnderPacketLoss() throws Exception {
        for (int run = 0; run < 10; run++) {
            Peers.Run result = Peers.gtlsclient(worker.port(), List.of("-q", "--timeout=3s", "-r", "0.05", "-n", "50"),
                    Duration.ofSeconds(60), "/bytes/1024", "/sse?n=3&interval=1ms");
            assertThat(result.stderrText()).as("run %d", run).doesNotContain("ERR_IDLE_CLOSE").doesNotContain("ERR_");
        }
    }
}
