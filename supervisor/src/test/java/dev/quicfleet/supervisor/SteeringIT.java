package dev.quicfleet.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Connections follow their connection id: clients of a 2-worker cluster rebind their NAT port (the ngtcp2 client's
 * {@code --nat-rebinding}) before they send their request. With CBPF steering every connection completes; with
 * {@code --steering off} the kernel's hash sends about half of the rebound connections to the worker that does not
 * know them, and they fail.
 */
class SteeringIT {

    private static final int CONNECTIONS = 20;
    private static final com.fasterxml.jackson.databind.ObjectMapper JSON =
            new com.fasterxml.jackson.databind.ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void rebindingClientsStayOnTheirWorkerWithSteeringAndGetLostWithout() throws Exception {
        int steered;
        double misroutedSteered;
        try (SupervisorProcess supervisor = SupervisorProcess.start(Files.createDirectories(tmp.resolve("on")),
                "--workers", "2", "--metrics-address", "127.0.0.1:0")) {
            assertThat(supervisor.stderr()).contains("steering: cbpf");
            steered = rebindingClients(supervisor.port(), tmp.resolve("on"));
            String scrape = supervisor.scrape();
            misroutedSteered = SupervisorProcess.sum(scrape, "quicfleet_quic_packets_misrouted_total");
            // packets of live connections never draw a stateless reset
            assertThat(SupervisorProcess.sum(scrape, "quicfleet_quic_stateless_resets_total")).isZero();
        }
        int hashed;
        double misroutedHashed;
        try (SupervisorProcess supervisor = SupervisorProcess.start(Files.createDirectories(tmp.resolve("off")),
                "--workers", "2", "--metrics-address", "127.0.0.1:0", "--steering", "off")) {
            hashed = rebindingClients(supervisor.port(), tmp.resolve("off"));
            String scrape = supervisor.scrape();
            misroutedHashed = SupervisorProcess.sum(scrape, "quicfleet_quic_packets_misrouted_total");
            // a packet that reached the other worker may belong to a live connection there: counted, never reset
            assertThat(SupervisorProcess.sum(scrape, "quicfleet_quic_stateless_resets_total")).isZero();
        }
        System.out.printf("misrouted packets: %.0f with steering, %.0f without%n", misroutedSteered, misroutedHashed);
        assertThat(misroutedSteered).isZero();
        assertThat(misroutedHashed).isPositive();
        System.out.printf("NAT rebinding, 2 workers: %d/%d connections completed with steering, %d/%d without%n",
                steered, CONNECTIONS, hashed, CONNECTIONS);
        assertThat(steered).as("with steering").isEqualTo(CONNECTIONS);
        // Each rebound connection reaches the wrong worker with probability 1/2: all 20 surviving is a 2^-20 chance.
        assertThat(hashed).as("without steering").isLessThan(CONNECTIONS);
    }

    /**
     * kill -9 of one worker does not disturb the other's connections: the supervisor keeps the dead worker's socket,
     * so the reuseport group keeps its order and the steering program still maps every slot to its socket. Clients
     * ask /whoami, then follow an 8-second event stream on the same connection; the worker with fewer of them is
     * killed in the middle.
     * Every stream on the surviving worker completes (its clients' ACKs and flow-control updates are short-header
     * packets, steered by slot).
     */
    @Test
    void killingOneWorkerLeavesTheOthersConnectionsAlive() throws Exception {
        try (SupervisorProcess supervisor = SupervisorProcess.start(tmp, "--workers", "2",
                "--metrics-address", "off")) {
            int port = supervisor.port();
            List<Process> clients = new ArrayList<>();
            List<Path> downloads = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                Path download = Files.createDirectories(tmp.resolve("stream-" + i));
                downloads.add(download);
                clients.add(new ProcessBuilder("/usr/bin/gtlsclient", "-q", "--exit-on-all-streams-close",
                        "--handshake-timeout=10s", "--timeout=10s", "--download", download.toString(), "127.0.0.1",
                        Integer.toString(port), "https://localhost:" + port + "/whoami",
                        "https://localhost:" + port + "/sse?n=80&interval=100ms")
                        .redirectErrorStream(true).redirectOutput(tmp.resolve("stream-" + i + ".log").toFile())
                        .start());
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (downloads.stream().anyMatch(d -> !Files.exists(d.resolve("whoami")))) {
                assertThat(System.nanoTime()).as("every client got /whoami").isLessThan(deadline);
                Thread.sleep(50);
            }
            Thread.sleep(1000); // the streams are running
            // the victim: the worker with fewer of the clients (all 12 on one worker: a 2^-11 chance)
            java.util.Map<Long, Long> perWorker = new java.util.HashMap<>();
            for (Path download : downloads) {
                perWorker.merge(JSON.readTree(download.resolve("whoami").toFile()).get("pid").asLong(), 1L, Long::sum);
            }
            long victim = perWorker.entrySet().stream().min(java.util.Map.Entry.comparingByValue()).orElseThrow()
                    .getKey();
            ProcessHandle.of(victim).orElseThrow().destroyForcibly(); // SIGKILL, by pid
            int survivors = 0;
            int completed = 0;
            for (int i = 0; i < clients.size(); i++) {
                if (!clients.get(i).waitFor(40, TimeUnit.SECONDS)) {
                    clients.get(i).destroyForcibly(); // by its own handle (pid), never by name
                }
                long pid = JSON.readTree(downloads.get(i).resolve("whoami").toFile()).get("pid").asLong();
                if (pid != victim) {
                    survivors++;
                    Path sse = downloads.get(i).resolve("sse?n=80&interval=100ms");
                    String events = Files.exists(sse) ? Files.readString(sse) : "";
                    assertThat(events).as("stream %d, on the surviving worker", i).contains("event: done")
                            .contains("\"i\":79,");
                    completed++;
                }
            }
            System.out.printf("kill -9 of one worker: %d/%d streams on the other worker completed%n", completed,
                    survivors);
            assertThat(survivors).as("connections on the surviving worker, per worker pid: %s", perWorker)
                    .isPositive();
        }
    }

    /** Runs {@link #CONNECTIONS} rebinding clients at once; returns how many got their response. */
    private static int rebindingClients(int port, Path dir) throws Exception {
        List<Process> clients = new ArrayList<>();
        List<Path> downloads = new ArrayList<>();
        for (int i = 0; i < CONNECTIONS; i++) {
            Path download = Files.createDirectories(dir.resolve("client-" + i));
            downloads.add(download);
            clients.add(new ProcessBuilder("/usr/bin/gtlsclient", "-q", "--exit-on-all-streams-close",
                    "--handshake-timeout=10s", "--timeout=5s", "--change-local-addr=300ms", "--nat-rebinding",
                    "--delay-stream=1s", "--download", download.toString(), "127.0.0.1", Integer.toString(port),
                    "https://localhost:" + port + "/whoami")
                    .redirectErrorStream(true).redirectOutput(dir.resolve("client-" + i + ".log").toFile()).start());
        }
        int completed = 0;
        for (int i = 0; i < CONNECTIONS; i++) {
            Process client = clients.get(i);
            if (!client.waitFor(30, TimeUnit.SECONDS)) {
                client.destroyForcibly(); // by its own handle (pid), never by name
            }
            if (Files.exists(downloads.get(i).resolve("whoami"))
                    && Files.readString(downloads.get(i).resolve("whoami")).contains("\"protocol\" : \"h3\"")) {
                completed++;
            }
        }
        return completed;
    }
}
