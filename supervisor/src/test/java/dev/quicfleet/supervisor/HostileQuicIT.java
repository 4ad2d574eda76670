package dev.quicfleet.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * QUIC clients that never finish, forge or garble their first flight: every resource they take is bounded in time
 * and size, what they cause is counted, and the log stays quiet. The valid Initials come from the independent ngtcp2
 * client: its first datagram is recorded (nothing answers it) and protected again under fresh connection IDs
 * ({@link QuicInitials}), so each copy is a new connection with a real ClientHello whose client never answers.
 */
class HostileQuicIT {

    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
    private static final SecureRandom RANDOM = new SecureRandom();
    /** The worker's default --handshake-timeout. */
    private static final Duration HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);

    @TempDir
    Path tmp;

    @Test
    void abandonedHandshakesExpireFreeTheirMemoryAndRetryAutoSwitchesOffAgain() throws Exception {
        try (SupervisorProcess supervisor = SupervisorProcess.start(tmp, "--workers", "1",
                "--metrics-address", "127.0.0.1:0")) {
            awaitKeys(supervisor);
            InetSocketAddress server = new InetSocketAddress(LOOPBACK, supervisor.port());
            long worker = supervisor.workerPids().get(0);
            assertThat(whoami(supervisor.port(), "warm-up")).as("a real client is served").isTrue();
            QuicInitials initials = QuicInitials.of(recordClientInitial());
            // Warm-up: a few abandoned handshakes run every code path once (classes loaded, caches filled).
            try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress(LOOPBACK, 0))) {
                for (int i = 0; i < 20; i++) {
                    byte[] datagram = initials.withDestination(randomId(18));
                    socket.send(new DatagramPacket(datagram, datagram.length, server));
                }
            }
            assertThat(await(supervisor, scrape -> SupervisorProcess.sum(scrape,
                    "quicfleet_quic_handshake_failures_total") >= 20 && inProgress(scrape) == 0,
                    HANDSHAKE_TIMEOUT.plusSeconds(20))).as("warm-up handshakes expired").isNotNull();
            long baseline = liveHeap(worker);

            double processedBefore = processed(supervisor.scrape());
            try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress(LOOPBACK, 0))) {
                for (int sent = 100; sent <= 2_000; sent += 100) {
                    for (int i = 0; i < 100; i++) {
                        byte[] datagram = initials.withDestination(randomId(18));
                        socket.send(new DatagramPacket(datagram, datagram.length, server));
                    }
                    // 100 at a time, then wait until the worker took them (a connection or a Retry each): none is
                    // lost in a full socket buffer
                    double expected = processedBefore + sent;
                    assertThat(await(supervisor, scrape -> processed(scrape) >= expected, Duration.ofSeconds(60)))
                            .as("Initials the worker processed after %d sent", sent).isNotNull();
                }
            }
            long floodEnded = System.nanoTime();
            String during = supervisor.scrape();
            double inProgress = SupervisorProcess.sum(during, "quicfleet_quic_handshakes_in_progress");
            assertThat(inProgress).as("handshakes the flood left in progress").isGreaterThanOrEqualTo(500);

            // Every one of them ends by the deadline (+ a margin for a busy machine): closed, counted as timed out.
            String after = await(supervisor, scrape -> inProgress(scrape) == 0, HANDSHAKE_TIMEOUT.plusSeconds(15));
            assertThat(after).as("no handshake in progress within the deadline + 15 s").isNotNull();
            long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - floodEnded);
            assertThat(SupervisorProcess.sum(after, "quicfleet_quic_handshakes_in_progress"))
                    .as("handshakes in progress %d s after the flood", seconds).isZero();
            assertThat(SupervisorProcess.sum(after, "quicfleet_quic_handshake_failures_total", "reason=\"timeout\""))
                    .isGreaterThanOrEqualTo(inProgress);
            // Each connection in its handshake holds about 3.4 KB of heap (and more natively): 1,000 of them would
            // show.
            // Closed connections can still sit in the codec's and the event loop's queues for a moment on a busy
            // machine (one run of the full suite saw +3.1 MB once): measure again for up to 10 s; a leak stays.
            long heap = liveHeap(worker);
            long heapDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (heap >= baseline + (2L << 20) && System.nanoTime() < heapDeadline) {
                supervisor.awaitStderr(l -> false, Duration.ofSeconds(2));
                heap = liveHeap(worker);
            }
            assertThat(heap).as("live heap: baseline %d KB, now %d KB", baseline >> 10, heap >> 10)
                    .isLessThan(baseline + (2L << 20));

            // --retry auto switched Retry on during the flood and off again: a later client gets none.
            double retries = SupervisorProcess.sum(after, "quicfleet_quic_retry_sent_total");
            assertThat(whoami(supervisor.port(), "after-flood")).isTrue();
            assertThat(SupervisorProcess.sum(supervisor.scrape(), "quicfleet_quic_retry_sent_total"))
                    .as("Retry packets sent to the client after the flood").isEqualTo(retries);
        }
    }

    @Test
    void anUnansweredInitialGetsAtMostThreeTimesItsBytesBack() throws Exception {
        try (SupervisorProcess supervisor = SupervisorProcess.start(tmp, "--workers", "1", "--retry", "never",
                "--metrics-address", "127.0.0.1:0")) {
            awaitKeys(supervisor);
            byte[] initial = QuicInitials.of(recordClientInitial()).withDestination(randomId(18));
            List<String> received = new ArrayList<>();
            long total = 0;
            // quiche probes at about 1, 2, 5, 10 and 21 s (it sent 7,707 bytes by 21 s before the limit); the
            // handshake deadline closes the connection at 10 s, after which the worker has nothing left to send to
            // this address: 15 s covers every datagram it can ever send.
            try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress(LOOPBACK, 0))) {
                long start = System.nanoTime();
                socket.send(new DatagramPacket(initial, initial.length, new InetSocketAddress(LOOPBACK,
                        supervisor.port())));
                long end = start + TimeUnit.SECONDS.toNanos(15);
                byte[] buffer = new byte[65_536];
                while (System.nanoTime() < end) {
                    socket.setSoTimeout((int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(end - System.nanoTime())));
                    DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
                    try {
                        socket.receive(packet);
                    } catch (SocketTimeoutException e) {
                        break;
                    }
                    total += packet.getLength();
                    received.add(String.format("%.2fs: %d bytes", (System.nanoTime() - start) / 1e9,
                            packet.getLength()));
                }
            }
            assertThat(total).as("bytes the worker answered: %s", received).isPositive()
                    .isLessThanOrEqualTo(3L * initial.length);
            assertThat(SupervisorProcess.sum(supervisor.scrape(), "quicfleet_quic_datagrams_dropped_total",
                    "reason=\"amplification\"")).as("datagrams held back by the limit").isPositive();
        }
    }

    @Test
    void garbageDatagramsAreCountedAndHardlyLogged() throws Exception {
        try (SupervisorProcess supervisor = SupervisorProcess.start(tmp, "--workers", "1", "--retry", "never",
                "--metrics-address", "127.0.0.1:0")) {
            awaitKeys(supervisor);
            int linesBefore = supervisor.stderr().split("\n", -1).length;
            InetSocketAddress server = new InetSocketAddress(LOOPBACK, supervisor.port());
            int sent = 0;
            try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress(LOOPBACK, 0))) {
                while (sent < 10_000) {
                    // 500 at a time, then wait until the worker has seen them: no loss in the socket buffer
                    for (int i = 0; i < 500; i++, sent++) {
                        byte[] garbage = garbageInitial();
                        socket.send(new DatagramPacket(garbage, garbage.length, server));
                    }
                    int expected = sent;
                    assertThat(await(supervisor, scrape -> malformed(scrape) >= expected, Duration.ofSeconds(60)))
                            .as("malformed datagrams counted after %d sent", sent).isNotNull();
                }
            }
            assertThat(malformed(supervisor.scrape())).isEqualTo(10_000);
            String[] lines = supervisor.stderr().split("\n", -1);
            List<String> logged = Arrays.asList(lines).subList(linesBefore, lines.length);
            assertThat(logged).as("log lines during the garbage").hasSizeLessThan(10);
            assertThat(String.join("\n", logged)).doesNotContain("\tat ").doesNotContain("reached at the tail");
            assertThat(whoami(supervisor.port(), "after-garbage")).as("the worker still serves").isTrue();
        }
    }

    @Test
    void aWorkerDrainsAndExitsWithinTwoSecondsDespiteAbandonedHandshakes() throws Exception {
        try (SupervisorProcess supervisor = SupervisorProcess.start(tmp, "--workers", "1",
                "--metrics-address", "127.0.0.1:0")) {
            awaitKeys(supervisor);
            QuicInitials initials = QuicInitials.of(recordClientInitial());
            try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress(LOOPBACK, 0))) {
                for (int i = 0; i < 100; i++) {
                    byte[] datagram = initials.withDestination(randomId(18));
                    socket.send(new DatagramPacket(datagram, datagram.length,
                            new InetSocketAddress(LOOPBACK, supervisor.port())));
                }
            }
            assertThat(await(supervisor, scrape -> inProgress(scrape) >= 50, Duration.ofSeconds(30)))
                    .as("abandoned handshakes in progress").isNotNull();
            // SIGTERM to the worker itself (the supervisor sends the same on a stop or reload): it drains and exits.
            ProcessHandle worker = ProcessHandle.of(supervisor.workerPids().get(0)).orElseThrow();
            long start = System.nanoTime();
            worker.destroy();
            worker.onExit().get(30, TimeUnit.SECONDS);
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertThat(millis).as("SIGTERM to exit with abandoned handshakes; stderr:\n%s", supervisor.stderr())
                    .isLessThan(2_000);
            assertThat(supervisor.awaitStderr(l -> l.contains("drain") && l.contains("0 requests in flight"),
                    Duration.ofSeconds(5))).isNotNull();
        }
    }

    /**
     * The same for the whole cluster, as the issue asks: SIGTERM to the supervisor of 2 workers, each holding abandoned
     * handshakes, and the supervisor has exited (every worker drained and gone) within 2 s.
     */
    @Test
    void aClusterStopsWithinTwoSecondsDespiteAbandonedHandshakes() throws Exception {
        try (SupervisorProcess supervisor = SupervisorProcess.start(tmp, "--workers", "2",
                "--metrics-address", "127.0.0.1:0")) {
            awaitKeys(supervisor);
            QuicInitials initials = QuicInitials.of(recordClientInitial());
            // 100 source ports: the kernel's hash gives both workers some
            for (int i = 0; i < 100; i++) {
                try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress(LOOPBACK, 0))) {
                    byte[] datagram = initials.withDestination(randomId(18));
                    socket.send(new DatagramPacket(datagram, datagram.length,
                            new InetSocketAddress(LOOPBACK, supervisor.port())));
                }
            }
            assertThat(await(supervisor, scrape -> inProgress(scrape) >= 50, Duration.ofSeconds(30)))
                    .as("abandoned handshakes in progress").isNotNull();
            ProcessHandle cluster = ProcessHandle.of(supervisor.pid()).orElseThrow();
            List<ProcessHandle> workers = supervisor.workerPids().stream()
                    .map(pid -> ProcessHandle.of(pid).orElseThrow()).toList();
            long start = System.nanoTime();
            cluster.destroy();
            cluster.onExit().get(30, TimeUnit.SECONDS); // our own child: noticed at once
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertThat(supervisor.awaitExit(Duration.ofSeconds(5))).isZero();
            assertThat(workers).noneMatch(ProcessHandle::isAlive);
            assertThat(millis).as("SIGTERM to the supervisor until it exited; stderr:\n%s", supervisor.stderr())
                    .isLessThan(2_000);
        }
    }

    /** The ngtcp2 client's first datagram (its Initial with the ClientHello), sent to a socket that never answers. */
    private static byte[] recordClientInitial() throws Exception {
        try (DatagramSocket sink = new DatagramSocket(new InetSocketAddress(LOOPBACK, 0))) {
            int port = sink.getLocalPort();
            Process client = new ProcessBuilder("/usr/bin/gtlsclient", "--handshake-timeout=5s", "-q", "127.0.0.1",
                    Integer.toString(port), "https://localhost:" + port + "/").redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            try {
                sink.setSoTimeout(20_000);
                byte[] buffer = new byte[65_536];
                DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
                sink.receive(packet);
                return Arrays.copyOf(packet.getData(), packet.getLength());
            } finally {
                client.destroyForcibly(); // by its own handle (pid)
                client.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    private static byte[] randomId(int length) {
        byte[] id = new byte[length];
        RANDOM.nextBytes(id);
        return id;
    }

    /** A datagram shaped like a v1 Initial (new connection IDs, 1,200 bytes) whose protected part is noise. */
    private static byte[] garbageInitial() {
        ByteBuffer b = ByteBuffer.allocate(1200);
        b.put((byte) 0xc3).putInt(1).put((byte) 8).put(randomId(8)).put((byte) 8).put(randomId(8)).put((byte) 0);
        b.put(randomId(b.remaining()));
        return b.array();
    }

    /** Bytes of live objects in the worker's heap ({@code jcmd <pid> GC.class_histogram} runs a full GC first). */
    private static long liveHeap(long pid) throws Exception {
        Path jcmd = Path.of(ProcessHandle.current().info().command().orElseThrow()).resolveSibling("jcmd");
        Process histogram = new ProcessBuilder(jcmd.toString(), Long.toString(pid), "GC.class_histogram")
                .redirectErrorStream(true).start();
        String output = new String(histogram.getInputStream().readAllBytes());
        assertThat(histogram.waitFor(60, TimeUnit.SECONDS)).isTrue();
        String total = output.lines().filter(l -> l.startsWith("Total")).findFirst().orElseThrow(
                () -> new AssertionError("no Total line from jcmd GC.class_histogram: " + output));
        return Long.parseLong(total.trim().split("\\s+")[2]);
    }

    private static double inProgress(String scrape) {
        return SupervisorProcess.sum(scrape, "quicfleet_quic_handshakes_in_progress");
    }

    private static double malformed(String scrape) {
        return SupervisorProcess.sum(scrape, "quicfleet_quic_datagrams_dropped_total", "reason=\"malformed\"");
    }

    /** Initials that made a connection (in progress or finished) or got a Retry. */
    private static double processed(String scrape) {
        return inProgress(scrape) + SupervisorProcess.sum(scrape, "quicfleet_quic_handshakes_total")
                + SupervisorProcess.sum(scrape, "quicfleet_quic_retry_sent_total");
    }

    /** Scrapes (every 100 ms) until {@code test} passes and returns that scrape; {@code null} after {@code timeout}. */
    private static String await(SupervisorProcess supervisor, Predicate<String> test, Duration timeout)
            throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        for (String scrape = supervisor.scrape(); ; scrape = supervisor.scrape()) {
            if (test.test(scrape)) {
                return scrape;
            }
            if (System.nanoTime() > deadline) {
                return null;
            }
            Thread.sleep(100);
        }
    }

    /** Waits until the worker read the cluster's keys (before that it sends no Retry). */
    private static void awaitKeys(SupervisorProcess supervisor) throws InterruptedException {
        assertThat(supervisor.awaitStderr(l -> l.contains("shared ticket keys applied"), Duration.ofSeconds(30)))
                .as(supervisor.stderr()).isNotNull();
    }

    /** GET /whoami with the ngtcp2 client; whether a response body arrived. */
    private boolean whoami(int port, String name) throws IOException, InterruptedException {
        Path download = Files.createDirectories(tmp.resolve(name));
        Process client = new ProcessBuilder("/usr/bin/gtlsclient", "--exit-on-all-streams-close",
                "--handshake-timeout=10s", "--timeout=10s", "--download=" + download, "127.0.0.1",
                Integer.toString(port), "https://localhost:" + port + "/whoami").redirectErrorStream(true)
                .redirectOutput(tmp.resolve(name + ".log").toFile()).start();
        if (!client.waitFor(30, TimeUnit.SECONDS)) {
            client.destroyForcibly(); // by its own handle (pid), never by name
        }
        return Files.exists(download.resolve("whoami")) && Files.size(download.resolve("whoami")) > 0;
    }
}
