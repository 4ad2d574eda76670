package dev.quicfleet.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * TLS session tickets issued by one worker resume on every worker, because every worker's ticket keys come from the
 * supervisor's shared map; with per-worker keys they resume only where they were issued. The client is the
 * independent ngtcp2 client with a session file.
 */
class SharedTicketsIT {

    private static final int CONNECTIONS = 20;

    @TempDir
    Path tmp;

    @Test
    void aTicketFromOneWorkerResumesOnEveryWorker() throws Exception {
        try (SupervisorProcess supervisor = SupervisorProcess.start(tmp, "--workers", "2",
                "--metrics-address", "off")) {
            awaitKeysApplied(supervisor, 2);
            List<JsonNode> resumedRuns = resumeManyTimes(supervisor.port());
            Set<Integer> workers = new HashSet<>();
            for (JsonNode whoami : resumedRuns) {
                assertThat(whoami.get("tlsResumed").asBoolean()).as(whoami.toString()).isTrue();
                // the request itself ran as 0-RTT early data, on whichever worker the kernel picked
                assertThat(whoami.get("earlyData").asBoolean()).as(whoami.toString()).isTrue();
                workers.add(whoami.get("worker").asInt());
            }
            assertThat(workers).as("the kernel spreads new connections over both slots").containsExactlyInAnyOrder(0, 1);
        }
    }

    @Test
    void withPerWorkerKeysTicketsResumeOnlyWhereTheyWereIssued() throws Exception {
        try (SupervisorProcess supervisor = SupervisorProcess.start(tmp, "--workers", "2",
                "--metrics-address", "off", "--no-shared-tickets")) {
            List<JsonNode> runs = resumeManyTimes(supervisor.port());
            Set<Integer> resumedOn = new HashSet<>();
            boolean someNotResumed = false;
            for (JsonNode whoami : runs) {
                if (whoami.get("tlsResumed").asBoolean()) {
                    resumedOn.add(whoami.get("worker").asInt());
                } else {
                    someNotResumed = true;
                    assertThat(whoami.get("earlyData").asBoolean()).as(whoami.toString()).isFalse();
                }
            }
            // 20 connections land on the other worker at least once (all on one: 2^-20); there they cannot resume.
            assertThat(someNotResumed).isTrue();
            assertThat(resumedOn).isSubsetOf(issuer);
        }
    }

    /**
     * Hosts behind an anycast balancer share only a secret file: two supervisors ("hosts" on 127.0.0.2 and
     * 127.0.0.3) with the same secret resume each other's tickets; a third with another secret does not.
     */
    @Test
    void hostsWithTheSameClusterSecretResumeEachOthersTickets() throws Exception {
        Path secret = secretFile("secret-a");
        Path otherSecret = secretFile("secret-b");
        try (SupervisorProcess hostA = SupervisorProcess.start(Files.createDirectories(tmp.resolve("host-a")),
                "--workers", "1", "--address", "127.0.0.2", "--metrics-address", "off", "--cluster-secret",
                secret.toString());
             SupervisorProcess hostB = SupervisorProcess.start(Files.createDirectories(tmp.resolve("host-b")),
                "--workers", "1", "--address", "127.0.0.3", "--metrics-address", "off", "--cluster-secret",
                secret.toString());
             SupervisorProcess hostC = SupervisorProcess.start(Files.createDirectories(tmp.resolve("host-c")),
                "--workers", "1", "--address", "127.0.0.4", "--metrics-address", "off", "--cluster-secret",
                otherSecret.toString())) {
            for (SupervisorProcess host : List.of(hostA, hostB, hostC)) {
                awaitKeysApplied(host, 1);
            }
            Path session = tmp.resolve("host-session.pem");
            Path params = tmp.resolve("host-params.pem");
            whoami("127.0.0.2", hostA.port(), List.of("--wait-for-ticket", "--session-file=" + session,
                    "--tp-file=" + params), "host-a-first");
            JsonNode onB = whoami("127.0.0.3", hostB.port(), List.of("--session-file="
                    + Files.copy(session, tmp.resolve("s-b.pem")), "--tp-file=" + Files.copy(params,
                    tmp.resolve("p-b.pem"))), "host-b");
            JsonNode onC = whoami("127.0.0.4", hostC.port(), List.of("--session-file="
                    + Files.copy(session, tmp.resolve("s-c.pem")), "--tp-file=" + Files.copy(params,
                    tmp.resolve("p-c.pem"))), "host-c");
            assertThat(onB.get("tlsResumed").asBoolean()).as("same secret: %s", onB).isTrue();
            assertThat(onB.get("earlyData").asBoolean()).as("same secret: %s", onB).isTrue();
            assertThat(onC.get("tlsResumed").asBoolean()).as("other secret: %s", onC).isFalse();
            assertThat(onC.get("earlyData").asBoolean()).as("other secret: %s", onC).isFalse();
            assertThat(onC.get("protocol").asText()).isEqualTo("h3");
        }
    }

    /**
     * Rotation with a short period: after one rotation the ticket (encrypted with the previous key) still resumes;
     * once its lifetime has passed, the key is gone and the client gets a full handshake, and its request still
     * succeeds.
     */
    @Test
    void aTicketResumesAfterARotationAndNotAfterItsLifetime() throws Exception {
        try (SupervisorProcess supervisor = SupervisorProcess.start(tmp, "--workers", "1", "--metrics-address", "off",
                "--ticket-key-rotation", "2s", "--ticket-lifetime", "4s")) {
            awaitKeysApplied(supervisor, 1);
            Path session = tmp.resolve("rot-session.pem");
            Path params = tmp.resolve("rot-params.pem");
            whoami(supervisor.port(), List.of("--wait-for-ticket", "--session-file=" + session, "--tp-file=" + params),
                    "rot-first");
            long issuedAfter = rotations(supervisor);

            awaitRotations(supervisor, issuedAfter + 1);
            JsonNode afterRotation = whoami(supervisor.port(), List.of("--session-file="
                    + Files.copy(session, tmp.resolve("rot-s1.pem")), "--tp-file=" + Files.copy(params,
                    tmp.resolve("rot-p1.pem"))), "rot-after-one");
            assertThat(afterRotation.get("tlsResumed").asBoolean()).as("previous key decrypts").isTrue();

            // Key of epoch e decrypts until start(e + 1) + lifetime; four rotations later it is gone.
            awaitRotations(supervisor, issuedAfter + 4);
            JsonNode expired = whoami(supervisor.port(), List.of("--session-file="
                    + Files.copy(session, tmp.resolve("rot-s2.pem")), "--tp-file=" + Files.copy(params,
                    tmp.resolve("rot-p2.pem"))), "rot-expired");
            assertThat(expired.get("tlsResumed").asBoolean()).as("ticket past its lifetime").isFalse();
            assertThat(expired.get("protocol").asText()).isEqualTo("h3");
        }
    }

    /**
     * kill -9 of the supervisor right after a key rotation: its workers leave within seconds (no orphans); a new
     * supervisor on the same port takes over the map it left behind — the random keys of the old one are carried
     * over — so a ticket issued before the crash still resumes, with 0-RTT, on the new workers.
     */
    @Test
    void aSupervisorKilledAtARotationIsReplacedAndTicketsIssuedBeforeStillResume() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("restart"));
        Path shm = tmp.resolve("shm");
        Path session = tmp.resolve("restart-session.pem");
        Path params = tmp.resolve("restart-params.pem");
        int port;
        try (SupervisorProcess first = SupervisorProcess.start(dir, "--workers", "1", "--metrics-address", "off",
                "--ticket-key-rotation", "2s", "--ticket-lifetime", "60s", "--shm-path", shm.toString())) {
            port = first.port();
            awaitKeysApplied(first, 1);
            whoami(port, List.of("--wait-for-ticket", "--session-file=" + session, "--tp-file=" + params),
                    "restart-first");
            awaitRotations(first, rotations(first) + 1);
            List<Long> workers = first.workerPids();
            ProcessHandle.of(first.pid()).orElseThrow().destroyForcibly(); // SIGKILL, by pid
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (workers.stream().anyMatch(pid -> ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false))) {
                assertThat(System.nanoTime()).as("orphaned workers exit").isLessThan(deadline);
                Thread.sleep(50);
            }
        }
        try (SupervisorProcess second = SupervisorProcess.start(dir, "--workers", "1", "--metrics-address", "off",
                "--ticket-key-rotation", "2s", "--ticket-lifetime", "60s", "--shm-path", shm.toString(),
                "--port", Integer.toString(port))) {
            awaitKeysApplied(second, 1);
            assertThat(second.stderr()).contains("shared secrets: carried over");
            JsonNode resumed = whoami(port, List.of("--session-file=" + Files.copy(session,
                    tmp.resolve("restart-s1.pem")), "--tp-file=" + Files.copy(params, tmp.resolve("restart-p1.pem"))),
                    "restart-after");
            assertThat(resumed.get("tlsResumed").asBoolean()).as("resumed after the restart: %s", resumed).isTrue();
            assertThat(resumed.get("earlyData").asBoolean()).as("0-RTT after the restart: %s", resumed).isTrue();
        }
    }

    /**
     * Workers killed with SIGKILL at any moment (possibly inside the shared map): resumed connections keep being
     * served while workers die and come back, and afterwards every slot resumes tickets again (no wedged map).
     */
    @Test
    void killingWorkersInALoopLeavesEverySlotResumingTickets() throws Exception {
        try (SupervisorProcess supervisor = SupervisorProcess.start(tmp, "--workers", "2", "--metrics-address", "off")) {
            awaitKeysApplied(supervisor, 2);
            Path session = tmp.resolve("kill-session.pem");
            Path params = tmp.resolve("kill-params.pem");
            whoami(supervisor.port(), List.of("--wait-for-ticket", "--session-file=" + session, "--tp-file=" + params),
                    "kill-first");
            java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            java.util.concurrent.atomic.AtomicInteger served = new java.util.concurrent.atomic.AtomicInteger();
            List<String> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
            // Two clients, each a new resumed connection after another; short timeouts, so a connection that met
            // a worker being killed ends in seconds instead of at the default idle timeout.
            java.util.concurrent.atomic.AtomicInteger seq = new java.util.concurrent.atomic.AtomicInteger();
            Runnable client = () -> {
                while (!stop.get() && seq.get() < 1000) {
                    int i = seq.incrementAndGet();
                    long start = System.nanoTime();
                    try {
                        whoami(supervisor.port(), List.of("--handshake-timeout=3s", "--timeout=3s",
                                "--session-file=" + Files.copy(session, tmp.resolve("k-s" + i + ".pem")),
                                "--tp-file=" + Files.copy(params, tmp.resolve("k-p" + i + ".pem"))), "kill-run" + i);
                        served.incrementAndGet();
                    } catch (Throwable e) {
                        // a connection that met a worker being killed may fail; that it ends quickly is what counts
                        failures.add(((System.nanoTime() - start) / 1_000_000) + " ms: "
                                + e.toString().lines().findFirst().orElse(""));
                    }
                }
            };
            List<Thread> load = List.of(Thread.ofPlatform().start(client), Thread.ofPlatform().start(client));
            for (int round = 0; round < 6; round++) {
                List<Long> pids = supervisor.workerPids();
                ProcessHandle victim = ProcessHandle.of(pids.get(round % pids.size())).orElseThrow();
                victim.destroyForcibly();
                victim.onExit().get(10, TimeUnit.SECONDS);
                long readyBefore = readyLines(supervisor);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (readyLines(supervisor) <= readyBefore) {
                    assertThat(System.nanoTime()).as("respawn within 30s").isLessThan(deadline);
                    supervisor.awaitStderr(l -> false, Duration.ofMillis(50));
                }
            }
            stop.set(true);
            for (Thread thread : load) {
                thread.join(60_000);
            }
            // Requests kept completing while workers died. (How long a single one waits is not asserted: a new
            // connection whose 4-tuple hashes to a slot that is down waits in that slot's socket until the worker is
            // back, which in this loop can be several respawns.)
            assertThat(served.get()).as("resumed connections served during the kills; failures %s", failures)
                    .isPositive();
            // No 60 s lock-timeout stall: every request, even one that met a dead worker, ended in seconds.
            awaitEverySlotApplied(supervisor, 2);
            Set<Integer> resumedOn = new HashSet<>();
            for (int i = 0; i < 12; i++) {
                JsonNode whoami = whoami(supervisor.port(), List.of("--session-file=" + Files.copy(session,
                        tmp.resolve("k-after" + i + ".pem")), "--tp-file=" + Files.copy(params,
                        tmp.resolve("k-pafter" + i + ".pem"))), "kill-after" + i);
                assertThat(whoami.get("tlsResumed").asBoolean()).as(whoami.toString()).isTrue();
                resumedOn.add(whoami.get("worker").asInt());
            }
            assertThat(resumedOn).containsExactlyInAnyOrder(0, 1);
        }
    }

    /** What an operator (or a stray script) can do to the live shared map under a running cluster. */
    enum MapDamage {
        TRUNCATED("truncated", "it was truncated from "),
        DIRECTORY_REMOVED("deleted", "its directory ");

        final String reason;
        final String message;

        MapDamage(String reason, String message) {
            this.reason = reason;
            this.message = message;
        }
    }

    /**
     * The live map file truncated to 0 bytes (a mapping of it faults with SIGBUS where it is touched), or its whole
     * directory removed: the supervisor keeps running, says so in one WARN line naming the file, counts it, publishes
     * the keys in a new generation, keeps rotating, and within a rotation tickets resume with 0-RTT on every worker
     * again (checked with the ngtcp2 client); no process touched the damaged mapping (no stack trace, no crash file).
     */
    @ParameterizedTest
    @EnumSource(MapDamage.class)
    void aDamagedMapIsReplacedAndTicketsResumeWithEarlyDataOnEveryWorkerWithinARotation(MapDamage damage)
            throws Exception {
        Set<Path> crashFilesBefore = crashFiles(Path.of("").toAbsolutePath());
        try (SupervisorProcess supervisor = SupervisorProcess.start(tmp, "--workers", "2",
                "--metrics-address", "127.0.0.1:0", "--ticket-key-rotation", "3s", "--ticket-lifetime", "60s")) {
            awaitKeysApplied(supervisor, 2);
            Path shm = Path.of("/dev/shm", "quicfleet-" + supervisor.port());
            String generation = Files.readString(shm.resolve("current")).strip().split("\\s+")[0];
            Path file = shm.resolve("secrets-g" + generation + ".map");
            assertThat(file).exists();
            long rotationsBefore = rotations(supervisor);

            switch (damage) {
                case TRUNCATED -> {
                    try (var channel = java.nio.channels.FileChannel.open(file,
                            java.nio.file.StandardOpenOption.WRITE)) {
                        channel.truncate(0);
                    }
                }
                case DIRECTORY_REMOVED -> {
                    try (var files = Files.walk(shm)) {
                        files.sorted(java.util.Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
                    }
                }
            }

            String warning = supervisor.awaitStderr(l -> l.contains("published the keys in a new generation"),
                    Duration.ofSeconds(10));
            assertThat(warning).as(supervisor.stderr()).isNotNull().contains("WARN", "[supervisor]",
                    file + ": " + damage.message);
            awaitLines(supervisor, "moved from generation " + generation + " to ", 2);
            awaitRotations(supervisor, rotationsBefore + 2); // rotation goes on, and the workers have its keys

            List<JsonNode> runs = resumeManyTimes(supervisor.port());
            Set<Integer> workers = new HashSet<>();
            for (JsonNode whoami : runs) {
                assertThat(whoami.get("tlsResumed").asBoolean()).as(whoami.toString()).isTrue();
                assertThat(whoami.get("earlyData").asBoolean()).as("0-RTT again: %s", whoami).isTrue();
                workers.add(whoami.get("worker").asInt());
            }
            assertThat(workers).as("both workers resume from the new generation").containsExactlyInAnyOrder(0, 1);

            String scrape = supervisor.scrape();
            assertThat(SupervisorProcess.sum(scrape, "quicfleet_shm_replaced_total",
                    "reason=\"" + damage.reason + "\"")).isEqualTo(1);
            assertThat(SupervisorProcess.sum(scrape, "quicfleet_tls_ticket_key_age_seconds"))
                    .as("the encrypting key is younger than a rotation period (3 s) plus a publishing tick")
                    .isBetween(0.0, 4.5);
            String log = supervisor.stderr();
            assertThat(log.lines().filter(l -> l.contains("[supervisor]") && l.contains("WARN")
                    && l.contains("shared secrets"))).as(log).hasSize(1);
            assertThat(log).as("no stack trace, no crash").doesNotContain("InternalError", "\tat ", "SIGBUS");
            assertThat(ProcessHandle.of(supervisor.pid()).map(ProcessHandle::isAlive)).contains(true);
        }
        assertThat(crashFiles(Path.of("").toAbsolutePath())).isEqualTo(crashFilesBefore);
        assertThat(crashFiles(tmp.resolve("state"))).isEmpty();
    }

    private static Set<Path> crashFiles(Path dir) throws java.io.IOException {
        if (!Files.isDirectory(dir)) {
            return Set.of();
        }
        try (var files = Files.list(dir)) {
            return files.filter(f -> f.getFileName().toString().startsWith("hs_err")).collect(
                    java.util.stream.Collectors.toSet());
        }
    }

    /** Waits (bounded) for {@code count} stderr lines containing {@code text}. */
    private static void awaitLines(SupervisorProcess supervisor, String text, long count) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (supervisor.stderr().lines().filter(l -> l.contains(text)).count() < count) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("fewer than " + count + " lines with \"" + text + "\" within 15s:\n"
                        + supervisor.stderr());
            }
            supervisor.awaitStderr(l -> false, Duration.ofMillis(50));
        }
    }

    /** Waits (bounded) until every slot's current worker applied the shared keys and became ready. */
    private static void awaitEverySlotApplied(SupervisorProcess supervisor, int slots) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            List<String> lines = supervisor.stderr().lines().toList();
            boolean all = true;
            for (int slot = 0; slot < slots; slot++) {
                // A worker binds, and says ready, only once it applied the shared keys: the slot's newest worker is
                // ready, and applied the keys after it was started.
                int started = -1;
                int ready = -1;
                int applied = -1;
                for (int i = 0; i < lines.size(); i++) {
                    if (lines.get(i).contains("slot " + slot + ": started worker pid")) {
                        started = i;
                    }
                    if (lines.get(i).contains("slot " + slot + ": worker pid") && lines.get(i).endsWith(" ready")) {
                        ready = i;
                    }
                    if (lines.get(i).contains("[worker " + slot + "] TicketKeySync: shared ticket keys applied")) {
                        applied = i;
                    }
                }
                all &= started >= 0 && ready > started && applied > started && applied < ready;
            }
            if (all) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not every slot applied the shared keys within 60s:\n" + supervisor.stderr());
            }
            supervisor.awaitStderr(l -> false, Duration.ofMillis(100));
        }
    }

    private static long readyLines(SupervisorProcess supervisor) {
        return supervisor.stderr().lines().filter(l -> l.matches(".*slot \\d: worker pid \\d+ ready.*")).count();
    }

    private static long rotations(SupervisorProcess supervisor) {
        return supervisor.stderr().lines().filter(l -> l.contains("ticket keys rotated to epoch")).count();
    }

    /** Waits (bounded) for {@code count} rotations, then a little for the workers to apply the last one. */
    private static void awaitRotations(SupervisorProcess supervisor, long count) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (rotations(supervisor) < count) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("fewer than " + count + " rotations within 30s:\n" + supervisor.stderr());
            }
            supervisor.awaitStderr(l -> false, Duration.ofMillis(50));
        }
        // the supervisor publishes within 1 s of a new epoch; workers apply within 250 ms
        supervisor.awaitStderr(l -> false, Duration.ofMillis(500));
    }

    private Path secretFile(String name) throws Exception {
        byte[] bytes = new byte[32];
        new java.security.SecureRandom().nextBytes(bytes);
        Path file = Files.write(tmp.resolve(name), bytes);
        Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        return file;
    }

    private static void awaitKeysApplied(SupervisorProcess supervisor, int workers) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (supervisor.stderr().lines().filter(l -> l.contains("shared ticket keys applied")).count() < workers) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("workers did not apply the shared keys within 60s:\n" + supervisor.stderr());
            }
            supervisor.awaitStderr(l -> false, Duration.ofMillis(100));
        }
    }

    /**
     * A replayed 0-RTT first flight never runs its request: a relay records the client's first flight (everything
     * it sent before the server answered) and re-sends it, after the original connection ended, from many source
     * ports, so the kernel hands the replays to both workers. Every worker finds the client random in the shared
     * replay register, and a GET with a side effect ({@code /visits}) has run exactly once in the whole cluster.
     */
    @Test
    void aReplayedFirstFlightIsRecognisedOnEveryWorkerAndItsRequestNeverRuns() throws Exception {
        try (SupervisorProcess supervisor = SupervisorProcess.start(tmp, "--workers", "2",
                "--metrics-address", "127.0.0.1:0")) {
            awaitKeysApplied(supervisor, 2);
            Path session = tmp.resolve("replay-session.pem");
            Path params = tmp.resolve("replay-params.pem");
            whoami(supervisor.port(), List.of("--wait-for-ticket", "--session-file=" + session,
                    "--tp-file=" + params), "replay-first");
            String key = "replay-" + System.nanoTime();
            JsonNode original;
            List<byte[]> firstFlight;
            try (UdpRelay relay = UdpRelay.through(new InetSocketAddress(LOOPBACK, supervisor.port()))) {
                original = get("127.0.0.1", relay.port(), "/visits?key=" + key, List.of("--session-file=" + session,
                        "--tp-file=" + params), "replay-original");
                firstFlight = relay.firstFlight();
            }
            assertThat(original.get("earlyData").asBoolean()).as(original.toString()).isTrue();
            assertThat(original.get("visits").asLong()).isEqualTo(1);
            assertThat(firstFlight).isNotEmpty();

            // Each round re-sends the flight from 12 source ports, which the kernel's 4-tuple hash spreads over
            // both workers (all on one: 2^-11). A worker starts one connection per replayed flight (later copies
            // reach it as duplicates), and the worker that served the original ignores replays while the original
            // connection is still closing: rounds continue until both workers have recognised a replay.
            Map<String, Double> replayed = Map.of();
            for (int round = 0; round < 20 && replayed.size() < 2; round++) {
                for (int i = 0; i < 12; i++) {
                    try (DatagramSocket attacker = new DatagramSocket(new InetSocketAddress(LOOPBACK, 0))) {
                        for (byte[] datagram : firstFlight) {
                            attacker.send(new DatagramPacket(datagram, datagram.length, LOOPBACK, supervisor.port()));
                        }
                    }
                }
                Thread.sleep(500);
                replayed = positivePerWorker(supervisor.scrape(), "quicfleet_quic_early_data_requests_total",
                        "outcome=\"replayed\"");
            }
            assertThat(replayed).as("replays recognised per worker").containsOnlyKeys("0", "1");

            Map<Integer, Long> visits = new TreeMap<>();
            for (int i = 0; i < 40 && visits.size() < 2; i++) {
                JsonNode peek = get("127.0.0.1", supervisor.port(), "/visits?key=" + key + "&peek=1", List.of(),
                        "peek-" + i);
                visits.put(peek.get("worker").asInt(), peek.get("visits").asLong());
            }
            assertThat(visits).as("visits per worker").hasSize(2);
            assertThat(visits.values().stream().mapToLong(Long::longValue).sum()).as("visits per worker: %s", visits)
                    .isEqualTo(1);
        }
    }

    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
    private static final Pattern WORKER_LABEL = Pattern.compile("worker=\"(\\d+)\"");

    /** The positive samples of {@code family} whose labels contain {@code label}, summed per worker. */
    private static Map<String, Double> positivePerWorker(String scrape, String family, String label) {
        Map<String, Double> sums = new TreeMap<>();
        for (String line : scrape.lines().toList()) {
            if (line.startsWith(family + "{") && line.contains(label)) {
                double value = Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
                Matcher worker = WORKER_LABEL.matcher(line);
                if (value > 0 && worker.find()) {
                    sums.merge(worker.group(1), value, Double::sum);
                }
            }
        }
        return sums;
    }

    /** The worker that issued the ticket all the runs try to resume. */
    private int issuer;

    /**
     * One connection gets a ticket; then {@link #CONNECTIONS} new connections each try to resume with a fresh copy
     * of that same ticket (gtlsclient overwrites its session file with every new ticket it receives).
     */
    private List<JsonNode> resumeManyTimes(int port) throws Exception {
        Path session = tmp.resolve("session.pem");
        Path params = tmp.resolve("transport-params.pem");
        issuer = whoami(port, List.of("--wait-for-ticket", "--session-file=" + session, "--tp-file=" + params),
                "first").get("worker").asInt();
        List<JsonNode> runs = new ArrayList<>();
        for (int i = 0; i < CONNECTIONS; i++) {
            Path copy = Files.copy(session, tmp.resolve("session-" + i + ".pem"));
            Path paramsCopy = Files.copy(params, tmp.resolve("params-" + i + ".pem"));
            runs.add(whoami(port, List.of("--session-file=" + copy, "--tp-file=" + paramsCopy), "run" + i));
        }
        return runs;
    }

    private JsonNode whoami(int port, List<String> options, String name) throws Exception {
        return whoami("127.0.0.1", port, options, name);
    }

    private JsonNode whoami(String address, int port, List<String> options, String name) throws Exception {
        return get(address, port, "/whoami", options, name);
    }

    private JsonNode get(String address, int port, String path, List<String> options, String name) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve(name));
        List<String> command = new ArrayList<>(List.of("/usr/bin/gtlsclient", "-q", "--exit-on-all-streams-close",
                "--handshake-timeout=10s", "--timeout=15s", "--download", dir.toString()));
        command.addAll(options);
        command.addAll(List.of(address, Integer.toString(port), "https://localhost:" + port + path));
        Process client = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(client.getInputStream().readAllBytes());
        if (!client.waitFor(30, TimeUnit.SECONDS)) {
            client.destroyForcibly();
            throw new AssertionError("gtlsclient did not finish: " + output);
        }
        Path body = dir.resolve(path.substring(1));
        assertThat(body).as("gtlsclient output: %s", output).exists();
        return new ObjectMapper().readTree(body.toFile());
    }
}
