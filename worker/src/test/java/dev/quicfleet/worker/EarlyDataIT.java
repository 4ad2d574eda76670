package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * 0-RTT with the independent ngtcp2 client: a resumed GET runs as early data, a request with a body waits for the
 * handshake under the default policy, and {@code --early-data off} refuses early data in the handshake.
 */
class EarlyDataIT {

    @RegisterExtension
    static RunningWorker safe = new RunningWorker();

    @RegisterExtension
    static RunningWorker off = new RunningWorker("--early-data", "off");

    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void aResumedGetRunsAsEarlyData() throws Exception {
        Ticket ticket = ticket(safe, "get");
        for (int i = 0; i < 3; i++) {
            Path dir = safe.scratch("get-" + i);
            Peers.Run run = Peers.gtlsclient(safe.port(), List.of("--session-file=" + ticket.copy("g" + i).session,
                    "--tp-file=" + ticket.copy("g" + i).params, "--download", dir.toString()), Duration.ofSeconds(30),
                    "/visits?key=get-" + i);
            assertThat(run.stderrText()).contains("0RTT STREAM").doesNotContain("Early data was rejected");
            JsonNode whoami = JSON.readTree(dir.resolve("visits?key=get-" + i).toFile());
            assertThat(whoami.get("tlsResumed").asBoolean()).isTrue();
            assertThat(whoami.get("earlyData").asBoolean()).as(whoami.toString()).isTrue();
            assertThat(whoami.get("visits").asLong()).isEqualTo(1);
        }
    }

    @Test
    void anEarlyRequestWithABodyWaitsForTheHandshakeAndStillSucceeds() throws Exception {
        Ticket ticket = ticket(safe, "body");
        byte[] body = new byte[50_000];
        new Random(7).nextBytes(body);
        Path upload = Files.write(safe.file("upload.bin"), body);
        Path dir = safe.scratch("body");
        Peers.Run run = Peers.gtlsclient(safe.port(), List.of("--session-file=" + ticket.session,
                "--tp-file=" + ticket.params, "-d", upload.toString(), "--download", dir.toString()),
                Duration.ofSeconds(30), "/echo", "/whoami");
        // The client sent the request in 0-RTT and the server accepted the early data; the request ran after the
        // handshake (the default policy lets only GET, HEAD and OPTIONS without a body run early).
        assertThat(run.stderrText()).contains("0RTT STREAM").doesNotContain("Early data was rejected");
        assertThat(Files.readAllBytes(dir.resolve("echo"))).isEqualTo(body);
        JsonNode whoami = JSON.readTree(dir.resolve("whoami").toFile());
        assertThat(whoami.get("tlsResumed").asBoolean()).isTrue();
        assertThat(whoami.get("earlyData").asBoolean()).as("ran after the handshake: " + whoami).isFalse();
    }

    @Test
    void earlyDataOffRefusesEarlyDataAndTheRequestStillSucceeds() throws Exception {
        Ticket ticket = ticket(off, "off");
        Path dir = off.scratch("off");
        Peers.Run run = Peers.gtlsclient(off.port(), List.of("--session-file=" + ticket.session,
                "--tp-file=" + ticket.params, "--download", dir.toString()), Duration.ofSeconds(30), "/whoami");
        assertThat(run.stderrText()).contains("0RTT STREAM").contains("Early data was rejected by server");
        JsonNode whoami = JSON.readTree(dir.resolve("whoami").toFile());
        assertThat(whoami.get("tlsResumed").asBoolean()).isTrue();
        assertThat(whoami.get("earlyData").asBoolean()).isFalse();
    }

    private record Ticket(Path session, Path params) {
        Ticket copy(String name) throws java.io.IOException {
            return new Ticket(Files.copy(session, session.resolveSibling(session.getFileName() + "-" + name),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING),
                    Files.copy(params, params.resolveSibling(params.getFileName() + "-" + name),
                            java.nio.file.StandardCopyOption.REPLACE_EXISTING));
        }
    }

    /** A session ticket and the server's transport parameters from one full handshake. */
    private static Ticket ticket(RunningWorker worker, String name) throws Exception {
        Path session = worker.file(name + "-session.pem");
        Path params = worker.file(name + "-params.pem");
        Peers.gtlsclient(worker.port(), List.of("-q", "--wait-for-ticket", "--session-file=" + session,
                "--tp-file=" + params, "--download", worker.scratch(name + "-first").toString()),
                Duration.ofSeconds(30), "/whoami");
        assertThat(session).isNotEmptyFile();
        return new Ticket(session, params);
    }
}
