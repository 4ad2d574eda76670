package dev.quicfleet.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Address validation with Retry, against the independent ngtcp2 client: a token one worker or host sends in its Retry
 * is accepted by another worker, and by another host with the same cluster secret (a relay sends the client's first
 * flight to one and everything after the Retry to the other); a host with another secret drops it. {@code --retry
 * auto} sends Retry packets only while handshakes in progress reach {@code --retry-threshold}.
 */
class RetryIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    @TempDir
    Path tmp;

    @Test
    void aRetryTokenFromOneWorkerIsAcceptedByTheOther() throws Exception {
        try (SupervisorProcess supervisor = SupervisorProcess.start(tmp, "--workers", "2", "--retry", "always",
                "--metrics-address", "127.0.0.1:0")) {
            awaitKeys(supervisor, 2);
            InetSocketAddress server = new InetSocketAddress(LOOPBACK, supervisor.port());
            // Each relay sends from two new ports: the kernel's hash picks the worker for each, so within a few tries
            // the Retry comes from one worker and the connection completes on the other (all on one: 2^-16).
            boolean crossed = false;
            for (int attempt = 0; attempt < 16 && !crossed; attempt++) {
                String before = supervisor.scrape();
                JsonNode whoami;
                try (UdpRelay relay = UdpRelay.split(server, server)) {
                    whoami = whoami(relay.port(), "workers-" + attempt);
                }
                assertThat(whoami).as("attempt %d", attempt).isNotNull();
                int served = whoami.get("worker").asInt();
                String after = supervisor.scrape();
                int retried = -1;
                for (int worker = 0; worker < 2; worker++) {
                    if (retries(after, worker) > retries(before, worker)) {
                        retried = worker;
                    }
                }
                assertThat(retried).as("a worker sent the Retry").isNotNegative();
                crossed = retried != served;
            }
            assertThat(crossed).as("a token from one worker validated on the other").isTrue();
        }
    }

    @Test
    void hostsWithTheSameClusterSecretAcceptEachOthersTokensAndAnotherSecretDropsThem() throws Exception {
        Path secret = secretFile("secret-a");
        Path otherSecret = secretFile("secret-b");
        try (SupervisorProcess hostA = host("127.0.0.2", secret);
             SupervisorProcess hostB = host("127.0.0.3", secret);
             SupervisorProcess hostC = host("127.0.0.4", otherSecret)) {
            for (SupervisorProcess host : List.of(hostA, hostB, hostC)) {
                awaitKeys(host, 1);
            }
            InetSocketAddress a = new InetSocketAddress("127.0.0.2", hostA.port());
            JsonNode onB;
            try (UdpRelay relay = UdpRelay.split(a, new InetSocketAddress("127.0.0.3", hostB.port()))) {
                onB = whoami(relay.port(), "host-b");
            }
            assertThat(onB).as("the client completed on host B with host A's token").isNotNull();
            assertThat(onB.get("protocol").asText()).isEqualTo("h3");
            JsonNode onC;
            try (UdpRelay relay = UdpRelay.split(a, new InetSocketAddress("127.0.0.4", hostC.port()))) {
                onC = whoami(relay.port(), "host-c");
            }
            assertThat(onC).as("host C (another secret) dropped the token").isNull();

            assertThat(retries(hostA.scrape(), 0)).as("A sent both Retry packets").isGreaterThanOrEqualTo(2);
            String b = hostB.scrape();
            assertThat(retries(b, 0)).as("B validated A's token: no Retry of its own").isZero();
            assertThat(SupervisorProcess.sum(b, "quicfleet_quic_handshakes_total", "result=\"success\"")).isEqualTo(1);
            String c = hostC.scrape();
            assertThat(retries(c, 0)).isZero();
            assertThat(SupervisorProcess.sum(c, "quicfleet_quic_handshakes_total")).isZero();
        }
    }

    @Test
    void autoSendsRetryOnlyWhileHandshakesInProgressReachTheThreshold() throws Exception {
        try (SupervisorProcess supervisor = SupervisorProcess.start(tmp, "--workers", "1", "--retry", "auto",
                "--retry-threshold", "1", "--metrics-address", "127.0.0.1:0")) {
            awaitKeys(supervisor, 1);
            InetSocketAddress server = new InetSocketAddress(LOOPBACK, supervisor.port());
            assertThat(whoami(supervisor.port(), "calm")).isNotNull();
            assertThat(retries(supervisor.scrape(), 0)).as("no handshake in progress: no Retry").isZero();

            // A client whose first flight reaches the server and then goes silent: a handshake stays in progress.
            try (UdpRelay blackHole = UdpRelay.blackHole(server)) {
                Process client = gtlsclient(blackHole.port(), "--handshake-timeout=2s", tmp.resolve("silent"));
                client.waitFor(20, TimeUnit.SECONDS);
                client.destroyForcibly(); // by its own handle (pid)
            }
            assertThat(SupervisorProcess.sum(supervisor.scrape(), "quicfleet_quic_handshakes_in_progress"))
                    .isEqualTo(1);
            Path log = tmp.resolve("under-pressure.log");
            assertThat(whoami(supervisor.port(), "under-pressure")).isNotNull();
            assertThat(retries(supervisor.scrape(), 0)).as("one handshake in progress: Retry").isEqualTo(1);
            assertThat(Files.readString(log)).contains("type=Retry");
        }
    }

    private SupervisorProcess host(String address, Path secret) throws Exception {
        return SupervisorProcess.start(Files.createDirectories(tmp.resolve(address)), "--workers", "1",
                "--address", address, "--retry", "always", "--metrics-address", "127.0.0.1:0",
                "--cluster-secret", secret.toString());
    }

    /** Waits until {@code workers} workers read the cluster's keys (tokens are made and checked with them). */
    private static void awaitKeys(SupervisorProcess supervisor, int workers) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (supervisor.stderr().lines().filter(l -> l.contains("shared ticket keys applied")).count() < workers) {
            assertThat(System.nanoTime()).as(supervisor.stderr()).isLessThan(deadline);
            Thread.sleep(50);
        }
    }

    private static double retries(String scrape, int worker) {
        return SupervisorProcess.sum(scrape, "quicfleet_quic_retry_sent_total", "worker=\"" + worker + "\"");
    }

    /** GET /whoami through the ngtcp2 client on 127.0.0.1:{@code port}; its JSON, or null if it got no response. */
    private JsonNode whoami(int port, String name) throws Exception {
        Path download = Files.createDirectories(tmp.resolve(name));
        Process client = gtlsclient(port, "--download=" + download, tmp.resolve(name + ".log"));
        if (!client.waitFor(30, TimeUnit.SECONDS)) {
            client.destroyForcibly(); // by its own handle (pid), never by name
        }
        Path body = download.resolve("whoami");
        return Files.exists(body) ? JSON.readTree(body.toFile()) : null;
    }

    private static Process gtlsclient(int port, String option, Path log) throws IOException {
        return new ProcessBuilder("/usr/bin/gtlsclient", "--exit-on-all-streams-close", "--handshake-timeout=5s",
                "--timeout=5s", option, "127.0.0.1", Integer.toString(port), "https://localhost:" + port + "/whoami")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    private Path secretFile(String name) throws IOException {
        byte[] secret = new byte[32];
        new SecureRandom().nextBytes(secret);
        Path file = Files.write(tmp.resolve(name), secret);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        return file;
    }
}
