package dev.quicfleet.ticketcache;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.BitSet;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** The shared map used by two JVMs at once, one of which may die by SIGKILL at any moment. */
class SharedSecretsProcessIT {

    private static final Duration CHILD_TIMEOUT = Duration.ofSeconds(30);
    private static final Rotation ROTATION = Rotation.DEFAULT;
    /**
     * Far above the 2 ms lock wait (room for a GC pause or a descheduled thread on a busy 2-core machine), far below
     * Chronicle's own 60 s spin.
     */
    private static final Duration CALL_BOUND = Duration.ofMillis(100);

    @TempDir
    Path tmp;

    private final List<ChildJvm> children = new ArrayList<>();
    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void killChildrenAndClose() throws Exception {
        for (ChildJvm child : children) {
            child.kill();
        }
        for (AutoCloseable closeable : open.reversed()) {
            closeable.close();
        }
    }

    @Test
    void anotherProcessReadsTheKeysAndExactlyOneProcessWinsEachId() throws Exception {
        int count = 200_000;
        Path dir = tmp.resolve("quicfleet-4433");
        SharedSecretsConfig config = SharedSecretsChild.raceConfig(dir);
        SharedSecretsOwner owner = SharedSecretsOwner.create(config, Clock.systemUTC());
        open.add(owner);
        Instant now = Instant.now();
        KeySchedule schedule = KeySchedule.at(now, ROTATION, new RandomKeys());
        owner.publish(schedule);
        SharedSecrets secrets = SharedSecrets.open(config, Clock.systemUTC());
        open.add(secrets);
        byte[][] ids = new byte[count][];
        for (int i = 0; i < count; i++) {
            ids[i] = SharedSecretsChild.id(i);
        }

        ChildJvm child = child("race", dir.toString(), Integer.toString(count));
        String childKey = child.awaitLine("keys ", CHILD_TIMEOUT);
        child.awaitLine("ready", CHILD_TIMEOUT);
        child.send("go");
        BitSet won = new BitSet(count);
        int unavailable = 0;
        for (int i = 0; i < count; i++) {
            switch (secrets.firstUse(ids[i], now.plusSeconds(600))) {
                case FIRST_USE -> won.set(i);
                case UNAVAILABLE, FULL -> unavailable++;
                case REPLAYED -> {
                }
            }
        }
        BitSet childWon = BitSet.valueOf(Base64.getDecoder().decode(child.awaitLine("won ", CHILD_TIMEOUT)));
        int childUnavailable = Integer.parseInt(child.awaitLine("unavailable ", CHILD_TIMEOUT));

        assertThat(childKey).isEqualTo(schedule.ticketKeyRing(now).orElseThrow().encryptingKey().nameHex());
        assertThat(unavailable + childUnavailable).isZero();
        BitSet both = (BitSet) won.clone();
        both.and(childWon);
        BitSet either = (BitSet) won.clone();
        either.or(childWon);
        assertThat(both.cardinality()).as("ids won by both processes").isZero();
        assertThat(either.cardinality()).as("ids won by one of them").isEqualTo(count);
        System.err.printf("race: this JVM won %d ids, the child %d%n", won.cardinality(), childWon.cardinality());
    }

    @Test
    void processKilledWhileHoldingALockStallsNobody() throws Exception {
        Path dir = tmp.resolve("quicfleet-4433");
        SharedSecretsConfig config = config(dir);
        SharedSecretsOwner owner = SharedSecretsOwner.create(config, Clock.systemUTC());
        open.add(owner);
        KeySchedule schedule = KeySchedule.at(Instant.now(), ROTATION, new RandomKeys());
        owner.publish(schedule);
        SharedSecrets secrets = SharedSecrets.open(config, Clock.systemUTC());
        open.add(secrets);
        byte[] id = SharedSecretsChild.id(1);

        ChildJvm child = child("hold", dir.resolve("secrets-g1.map").toString(), HexFormat.of().formatHex(id));
        child.awaitLine("locked", CHILD_TIMEOUT);
        child.kill();

        long start = System.nanoTime();
        ReplayCheck check = secrets.firstUse(id, Instant.now().plusSeconds(60));
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        assertThat(check).isEqualTo(ReplayCheck.UNAVAILABLE);
        assertThat(took).isLessThan(CALL_BOUND);
        assertThat(timed(secrets::refresh)).isLessThan(CALL_BOUND);
        assertThat(secrets.keys()).contains(schedule);

        SweepResult sweep = owner.sweep(Instant.now());
        secrets.refresh();

        assertThat(sweep.newGeneration()).isTrue();
        assertThat(secrets.generation()).isEqualTo(2);
        assertThat(secrets.firstUse(id, Instant.now().plusSeconds(60))).isEqualTo(ReplayCheck.FIRST_USE);
        assertThat(secrets.keys()).contains(schedule);
    }

    @Test
    void writersKilledAtRandomMomentsNeverStallTheOthers() throws Exception {
        Path dir = tmp.resolve("quicfleet-4433");
        SharedSecretsConfig config = config(dir);
        SharedSecretsOwner owner = SharedSecretsOwner.create(config, Clock.systemUTC());
        open.add(owner);
        KeySchedule schedule = KeySchedule.at(Instant.now(), ROTATION, new RandomKeys());
        owner.publish(schedule);
        SharedSecrets secrets = SharedSecrets.open(config, Clock.systemUTC());
        open.add(secrets);

        List<String> rounds = new ArrayList<>();
        for (int round = 0; round < 4; round++) {
            ChildJvm child = child("hammer", dir.toString());
            child.awaitLine("hammering", CHILD_TIMEOUT);
            Thread.sleep(ThreadLocalRandom.current().nextLong(100, 300));
            child.kill();

            // Whatever the kill left behind, every call answers within the bound, and the cached keys stay.
            Map<ReplayCheck, Integer> verdicts = probe(secrets, 2_000);
            assertThat(timed(secrets::refresh)).isLessThan(CALL_BOUND);
            assertThat(secrets.keys()).contains(schedule);
            // The supervisor's periodic sweep notices a wedged segment and moves everyone on, in bounded time too:
            // copying late records, waiting out one wedged lock and copying into the next generation.
            long start = System.nanoTime();
            SweepResult sweep = owner.sweep(Instant.now());
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
            secrets.refresh();
            assertThat(secrets.generation()).isEqualTo(owner.generation());
            rounds.add(verdicts + (sweep.newGeneration() ? " -> generation " + owner.generation() : ""));
        }
        System.err.println("after each SIGKILL, 2000 calls answered: " + rounds);

        owner.newGeneration();
        secrets.refresh();

        assertThat(secrets.generation()).isEqualTo(owner.generation());
        assertThat(probe(secrets, 2_000)).containsExactly(Map.entry(ReplayCheck.FIRST_USE, 2_000));
        assertThat(secrets.keys()).contains(schedule);
    }

    private ChildJvm child(String... args) throws IOException {
        ChildJvm child = ChildJvm.start(tmp, args);
        children.add(child);
        return child;
    }

    private static SharedSecretsConfig config(Path dir) {
        return SharedSecretsConfig.builder(4433).directory(dir).replayCapacity(100_000)
                .wedgedAfter(Duration.ofMillis(500)).build();
    }

    /** {@code count} calls on fresh ids, each within {@link #CALL_BOUND}; the verdicts counted. */
    private static Map<ReplayCheck, Integer> probe(SharedSecrets secrets, int count) {
        Map<ReplayCheck, Integer> verdicts = new EnumMap<>(ReplayCheck.class);
        Instant expiresAt = Instant.now().plusSeconds(60);
        for (int i = 0; i < count; i++) {
            byte[] id = new byte[32];
            ThreadLocalRandom.current().nextBytes(id);
            long start = System.nanoTime();
            ReplayCheck check = secrets.firstUse(id, expiresAt);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(CALL_BOUND);
            assertThat(check).isIn(ReplayCheck.FIRST_USE, ReplayCheck.UNAVAILABLE);
            verdicts.merge(check, 1, Integer::sum);
        }
        return verdicts;
    }

    private static Duration timed(Runnable action) {
        long start = System.nanoTime();
        action.run();
        return Duration.ofNanos(System.nanoTime() - start);
    }
}
