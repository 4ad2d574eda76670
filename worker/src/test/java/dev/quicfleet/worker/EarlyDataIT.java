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

    @RegisterExtension
    static RunningWorker tooEarly = new RunningWorker("--early-data", "425");

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

    /**
     * A POST sent in 0-RTT under the default policy runs exactly once, and only after the handshake: its response says
     * it did not run early, and the side effect ({@code /visits} counts requests of any method) happened once.
     */
    @Test
    void anEarlyPostRunsExactlyOnceAndOnlyAfterTheHandshake() throws Exception {
        Ticket ticket = ticket(safe, "post");
        Path upload = Files.write(safe.file("post.bin"), "form=1".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        Path dir = safe.scratch("post");
        Peers.Run run = Peers.gtlsclient(safe.port(), List.of("--session-file=" + ticket.session,
                "--tp-file=" + ticket.params, "-m", "POST", "-d", upload.toString(), "--download", dir.toString()),
                Duration.ofSeconds(30), "/visits?key=post");
        assertThat(run.stderrText()).contains("0RTT STREAM").doesNotContain("Early data was rejected");
        JsonNode posted = JSON.readTree(dir.resolve("visits?key=post").toFile());
        assertThat(posted.get("method").asText()).isEqualTo("POST");
        assertThat(posted.get("earlyData").asBoolean()).as("ran after the handshake: " + posted).isFalse();
        assertThat(posted.get("visits").asLong()).isEqualTo(1);
        assertThat(visits(safe, "post")).isEqualTo(1);
    }

    /**
     * {@code --early-data 425}: an early POST is answered with 425 Too Early without running (RFC 8470), and the
     * client's retry after the handshake (the same request without early data) succeeds; an early GET still runs early.
     */
    @Test
    void under425AnEarlyPostGets425AndTheClientsRetryAfterTheHandshakeSucceeds() throws Exception {
        Ticket ticket = ticket(tooEarly, "425");
        Path upload = Files.write(tooEarly.file("425.bin"), "form=1".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        Peers.Run early = Peers.gtlsclient(tooEarly.port(), List.of("--session-file=" + ticket.copy("post").session,
                "--tp-file=" + ticket.copy("post").params, "-m", "POST", "-d", upload.toString(), "--download",
                tooEarly.scratch("425-early").toString()), Duration.ofSeconds(30), "/visits?key=too-early");
        assertThat(early.stderrText()).contains("0RTT STREAM").doesNotContain("Early data was rejected")
                .contains("[:status: 425]");
        assertThat(visits(tooEarly, "too-early")).as("the early POST did not run").isZero();

        Path retried = tooEarly.scratch("425-retry");
        Peers.Run retry = Peers.gtlsclient(tooEarly.port(), List.of("--session-file=" + ticket.copy("retry").session,
                "--tp-file=" + ticket.copy("retry").params, "--disable-early-data", "-m", "POST", "-d", upload.toString(),
                "--download", retried.toString()), Duration.ofSeconds(30), "/visits?key=too-early");
        assertThat(retry.stderrText()).contains("[:status: 200]");
        JsonNode posted = JSON.readTree(retried.resolve("visits?key=too-early").toFile());
        assertThat(posted.get("method").asText()).isEqualTo("POST");
        assertThat(posted.get("visits").asLong()).isEqualTo(1);
        assertThat(posted.get("earlyData").asBoolean()).isFalse();

        Path got = tooEarly.scratch("425-get");
        Peers.gtlsclient(tooEarly.port(), List.of("--session-file=" + ticket.copy("get").session,
                "--tp-file=" + ticket.copy("get").params, "--download", got.toString()), Duration.ofSeconds(30),
                "/whoami");
        assertThat(JSON.readTree(got.resolve("whoami").toFile()).get("earlyData").asBoolean()).isTrue();
    }

    /** {@code /visits?key=K&peek=1}: how often K was requested in this worker, without counting this one. */
    private static long visits(RunningWorker worker, String key) throws Exception {
        Path dir = worker.scratch("peek-" + key + "-" + System.nanoTime());
        Peers.gtlsclient(worker.port(), List.of("-q", "--download", dir.toString()), Duration.ofSeconds(30),
                "/visits?key=" + key + "&peek=1");
        return JSON.readTree(dir.resolve("visits?key=" + key + "&peek=1").toFile()).get("visits").asLong();
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
