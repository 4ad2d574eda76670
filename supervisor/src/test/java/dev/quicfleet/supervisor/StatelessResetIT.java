package dev.quicfleet.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A worker killed with SIGKILL loses its connections; the worker respawned into its slot answers their next packets
 * with a stateless reset (RFC 9000 §10.3) whose token it derives from the cluster's shared reset key — the token the
 * dead worker gave the client in NEW_CONNECTION_ID — so the independent ngtcp2 client recognises the reset and closes
 * at once instead of at its idle timeout. With {@code --stateless-reset off} the same client waits for the timeout.
 */
class StatelessResetIT {

    /** ngtcp2's log of a NEW_CONNECTION_ID frame received from the server, with its reset token. */
    private static final Pattern ISSUED = Pattern.compile(
            "frm rx \\d+ 1RTT NEW_CONNECTION_ID\\(0x18\\) .*stateless_reset_token=(0x[0-9a-f]{32})");
    /** ngtcp2's log of a recognised stateless reset. */
    private static final Pattern RESET = Pattern.compile("pkt rx 0 SR token=(0x[0-9a-f]{32})");

    /**
     * When the client sends its request — and migrates, which makes it use a connection ID from NEW_CONNECTION_ID:
     * long enough after the kill for the respawned worker to serve and to have read the shared keys (a few seconds
     * on a busy 2-core machine). Earlier, its path validation would fail against the dead worker and the client would
     * fall back to the handshake's connection ID, which has no reset token.
     */
    private static final int REQUEST_DELAY_SECONDS = 15;

    @TempDir
    Path tmp;

    @Test
    void theClientOfAKilledWorkerIsResetWithTheTokenTheWorkerGaveIt() throws Exception {
        try (SupervisorProcess supervisor = SupervisorProcess.start(Files.createDirectories(tmp.resolve("on")),
                "--workers", "1", "--idle-timeout", "60s", "--metrics-address", "127.0.0.1:0")) {
            String log = clientOfKilledWorker(supervisor, tmp.resolve("on"), 60);
            List<String> issued = all(ISSUED, log);
            assertThat(issued).as("reset tokens the server gave the client\n%s", log).isNotEmpty();
            Matcher reset = RESET.matcher(log);
            assertThat(reset.find()).as("the client recognised a stateless reset\n%s", log).isTrue();
            assertThat(issued).contains(reset.group(1));
            assertThat(log).contains("ERR_DRAINING").doesNotContain("ERR_IDLE_CLOSE");
            assertThat(SupervisorProcess.sum(supervisor.scrape(), "quicfleet_quic_stateless_resets_total",
                    "outcome=\"sent\"")).isGreaterThanOrEqualTo(1);
        }
    }

    @Test
    void withoutStatelessResetsTheClientWaitsForItsIdleTimeout() throws Exception {
        try (SupervisorProcess supervisor = SupervisorProcess.start(Files.createDirectories(tmp.resolve("off")),
                "--workers", "1", "--idle-timeout", "60s", "--metrics-address", "127.0.0.1:0",
                "--stateless-reset", "off")) {
            String log = clientOfKilledWorker(supervisor, tmp.resolve("off"), REQUEST_DELAY_SECONDS + 5);
            assertThat(all(ISSUED, log)).isNotEmpty();
            assertThat(log).doesNotContainPattern(RESET).contains("ERR_IDLE_CLOSE");
            assertThat(SupervisorProcess.sum(supervisor.scrape(), "quicfleet_quic_stateless_resets_total"))
                    .isZero();
        }
    }

    /**
     * Connects an ngtcp2 client that migrates to a new local address (so it sends with a connection ID from
     * NEW_CONNECTION_ID, the only kind Netty gives a reset token) when it sends its request, {@link
     * #REQUEST_DELAY_SECONDS} after the handshake;
     * kills the worker with SIGKILL right after the handshake; returns the client's log once it exited.
     */
    private static String clientOfKilledWorker(SupervisorProcess supervisor, Path dir, int clientTimeoutSeconds)
            throws Exception {
        List<Long> workers = supervisor.workerPids();
        assertThat(workers).hasSize(1);
        // The worker derives reset tokens from the shared keys once it has read them (about a second after it is
        // ready); connection ids issued before carry random tokens, which no reset can match.
        assertThat(supervisor.awaitStderr(l -> l.contains("shared ticket keys applied"), Duration.ofSeconds(30)))
                .as(supervisor.stderr()).isNotNull();
        Path logFile = dir.resolve("client.log");
        int port = supervisor.port();
        Process client = new ProcessBuilder("/usr/bin/gtlsclient", "--exit-on-all-streams-close",
                "--handshake-timeout=10s", "--timeout=" + clientTimeoutSeconds + "s", "--change-local-addr=300ms",
                "--delay-stream=" + REQUEST_DELAY_SECONDS + "s", "127.0.0.1", Integer.toString(port), "https://localhost:" + port + "/whoami")
                .redirectErrorStream(true).redirectOutput(logFile.toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (!ISSUED.matcher(Files.readString(logFile)).find()) {
                assertThat(System.nanoTime()).as("handshake within 20s\n%s", Files.readString(logFile))
                        .isLessThan(deadline);
                assertThat(client.isAlive()).as("client alive\n%s", Files.readString(logFile)).isTrue();
                Thread.sleep(50);
            }
            ProcessHandle.of(workers.getFirst()).ifPresent(ProcessHandle::destroyForcibly); // SIGKILL, by pid
            assertThat(client.waitFor(REQUEST_DELAY_SECONDS + clientTimeoutSeconds + 20, TimeUnit.SECONDS))
                    .as("client exited\n%s", Files.readString(logFile)).isTrue();
            // the slot is serving again (a reset came from the respawned worker, or the test ends with it ready)
            assertThat(supervisor.awaitStderr(l -> l.contains("slot 0: worker pid") && l.endsWith("ready")
                    && !l.contains("pid " + workers.getFirst() + " "), Duration.ofSeconds(30))).isNotNull();
            return Files.readString(logFile);
        } finally {
            client.destroyForcibly(); // by its own handle (pid), never by name
        }
    }

    private static List<String> all(Pattern pattern, String text) {
        List<String> found = new ArrayList<>();
        Matcher m = pattern.matcher(text);
        while (m.find()) {
            found.add(m.group(1));
        }
        return found;
    }
}
