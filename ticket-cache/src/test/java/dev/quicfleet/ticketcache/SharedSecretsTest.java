package dev.quicfleet.ticketcache;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The shared map in one JVM: files, generations, keys and the replay register. */
class SharedSecretsTest {

    private static final Instant T0 = Instant.parse("2026-11-21T10:05:00Z");
    private static final Rotation ROTATION = new Rotation(Duration.ofMinutes(10), Duration.ofMinutes(25));
    private static final Duration WEDGED_AFTER = Duration.ofMillis(200);

    @TempDir
    Path tmp;

    private final TestClock clock = new TestClock(T0);
    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable closeable : open.reversed()) {
            closeable.close();
        }
    }

    @Test
    void ownerCreatesPrivateFilesInAPrivateDirectory() throws Exception {
        owner();

        Path dir = config().directory();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir))).isEqualTo("rwx------");
        for (String name : List.of("secrets-g1.map", "current", "owner.lock")) {
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve(name)))).as(name)
                    .isEqualTo("rw-------");
        }
        assertThat(Files.readString(dir.resolve("current")))
                .isEqualTo("1 " + Files.size(dir.resolve("secrets-g1.map")) + "\n");
    }

    @Test
    void defaultDirectoryIsOnTmpfsAndNamedAfterThePort() {
        assertThat(SharedSecretsConfig.defaultDirectory(4433)).isEqualTo(Path.of("/dev/shm/quicfleet-4433"));
        assertThat(SharedSecretsConfig.forPort(8443).directory()).isEqualTo(Path.of("/dev/shm/quicfleet-8443"));
        assertThatThrownBy(() -> SharedSecretsConfig.builder(4433).lockWait(Duration.ofSeconds(3)).build())
                .hasMessage("lock-wait: PT3S (expected: PT0.000000001S..PT1S)");
        assertThatThrownBy(() -> SharedSecretsConfig.builder(4433).replayCapacity(0).build())
                .hasMessage("shm-entries: 0 (expected: 1..4294967296)");
    }

    @Test
    void widerModeOfOurOwnDirectoryIsNarrowed() throws Exception {
        Files.createDirectories(config().directory());
        Files.setPosixFilePermissions(config().directory(), PosixFilePermissions.fromString("rwxr-xr-x"));

        owner();

        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(config().directory())))
                .isEqualTo("rwx------");
    }

    @Test
    void directoryOwnedByAnotherUserIsRefused() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root to give a directory away");
        Path dir = config().directory();
        Files.createDirectories(dir);
        Files.setAttribute(dir, "unix:uid", 65534);

        assertThatThrownBy(this::owner).isInstanceOf(IOException.class)
                .hasMessageStartingWith("shared secrets directory " + dir + " is owned by ")
                .hasMessageContaining("(expected: this user, uid 0; remove it or choose another --shm-path)");
    }

    @Test
    void secondOwnerOfTheSameDirectoryIsRefused() throws Exception {
        owner();

        assertThatThrownBy(this::owner).isInstanceOf(IOException.class)
                .hasMessage("shared secrets directory " + config().directory() + " is in use by another supervisor "
                            + "(expected: one supervisor per port and --shm-path)");
    }

    @Test
    void readerNeedsTheOwnerToHaveCreatedTheMap() {
        assertThatThrownBy(this::reader).isInstanceOf(IOException.class)
                .hasMessage("no shared secrets in " + config().directory() + " (expected: the supervisor creates "
                            + "them before starting workers)");
    }

    @Test
    void readerSeesTheKeysTheOwnerPublished() throws Exception {
        SharedSecretsOwner owner = owner();
        KeySchedule schedule = KeySchedule.at(T0, ROTATION, new RandomKeys());
        owner.publish(schedule);

        SharedSecrets reader = reader();

        assertThat(reader.keys()).contains(schedule);
        assertThat(reader.keys().orElseThrow().ticketKeyRing(T0)).isEqualTo(schedule.ticketKeyRing(T0));
    }

    @Test
    void refreshReportsNewKeysOnlyWhenTheyChange() throws Exception {
        SharedSecretsOwner owner = owner();
        SharedSecrets reader = reader();
        assertThat(reader.keys()).isEmpty();
        RandomKeys keys = new RandomKeys();

        owner.publish(KeySchedule.at(T0, ROTATION, keys));
        assertThat(reader.refresh()).isTrue();
        assertThat(reader.refresh()).isFalse();
        owner.publish(KeySchedule.at(T0, ROTATION, keys));
        assertThat(reader.refresh()).as("same keys published again").isFalse();
        owner.publish(KeySchedule.at(T0.plus(ROTATION.period()), ROTATION, keys));
        assertThat(reader.refresh()).isTrue();
        assertThat(reader.keys().orElseThrow().epochs().getLast().epoch()).isEqualTo(ROTATION.epoch(T0) + 2);
    }

    @Test
    void restartedOwnerCarriesKeysAndReplayRecordsIntoTheNextGeneration() throws Exception {
        SharedSecretsOwner first = owner();
        KeySchedule schedule = KeySchedule.at(T0, ROTATION, new RandomKeys());
        first.publish(schedule);
        SharedSecrets reader = reader();
        assertThat(reader.firstUse(id(1), T0.plusSeconds(60))).isEqualTo(ReplayCheck.FIRST_USE);
        first.close();
        open.remove(first);

        SharedSecretsOwner second = owner();
        reader.refresh();

        assertThat(second.generation()).isEqualTo(2);
        assertThat(second.recovered()).contains(schedule);
        assertThat(reader.generation()).isEqualTo(2);
        assertThat(reader.keys()).contains(schedule);
        assertThat(reader.firstUse(id(1), T0.plusSeconds(60))).isEqualTo(ReplayCheck.REPLAYED);
        assertThat(Files.exists(config().directory().resolve("secrets-g1.map"))).as("previous generation kept")
                .isTrue();
    }

    @Test
    void recordsWrittenToThePreviousGenerationBeforeAWorkerMovedAreCopiedByTheNextSweep() throws Exception {
        SharedSecretsOwner owner = owner();
        SharedSecrets lagging = reader();
        owner.newGeneration();
        SharedSecrets moved = reader();

        assertThat(lagging.firstUse(id(1), T0.plusSeconds(60))).isEqualTo(ReplayCheck.FIRST_USE);
        owner.sweep(T0);

        assertThat(lagging.generation()).isEqualTo(1);
        assertThat(moved.generation()).isEqualTo(2);
        assertThat(moved.firstUse(id(1), T0.plusSeconds(60))).isEqualTo(ReplayCheck.REPLAYED);
    }

    @Test
    void generationsOlderThanThePreviousOneAreDeleted() throws Exception {
        SharedSecretsOwner owner = owner();
        owner.newGeneration();
        owner.newGeneration();

        try (var files = Files.list(config().directory())) {
            assertThat(files.map(file -> file.getFileName().toString()))
                    .containsExactlyInAnyOrder("current", "owner.lock", "secrets-g2.map", "secrets-g3.map");
        }
    }

    /** What can happen to the live map while the owner and its readers have it mapped. */
    enum LiveDamage {
        TRUNCATED_TO_ZERO(MapDamage.TRUNCATED, "secrets-g1.map: it was truncated from "),
        TRUNCATED_TO_ONE_PAGE(MapDamage.TRUNCATED, "secrets-g1.map: it was truncated from "),
        HEADER_OVERWRITTEN(MapDamage.OVERWRITTEN, "secrets-g1.map: its Chronicle Map header was overwritten"),
        FILE_DELETED(MapDamage.DELETED, "secrets-g1.map: it was deleted"),
        DIRECTORY_DELETED(MapDamage.DELETED, "secrets-g1.map: its directory "),
        POINTER_DELETED(MapDamage.DELETED, "current: it was deleted");

        final MapDamage kind;
        final String message;

        LiveDamage(MapDamage kind, String message) {
            this.kind = kind;
            this.message = message;
        }

        /** The mapping itself may no longer be touched (SIGBUS, or garbage). */
        boolean unsafe() {
            return kind == MapDamage.TRUNCATED || kind == MapDamage.OVERWRITTEN;
        }
    }

    /**
     * The owner's next tick finds the damage before touching the mapping (a truncated mapping would raise SIGBUS and
     * kill this test JVM), publishes in a new generation with one WARN line, and readers follow it.
     */
    @ParameterizedTest
    @EnumSource(LiveDamage.class)
    void aDamagedLiveMapIsReplacedWithoutBeingTouchedAndReadersFollow(LiveDamage damage) throws Exception {
        SharedSecretsOwner owner = owner();
        List<MapDamage.Found> replaced = new ArrayList<>();
        owner.onReplaced(replaced::add);
        owner.publish(KeySchedule.at(T0, ROTATION, new RandomKeys()));
        SharedSecrets reader = reader();
        assertThat(reader.firstUse(id(1), T0.plusSeconds(600))).isEqualTo(ReplayCheck.FIRST_USE);
        Path dir = config().directory();
        Path file = dir.resolve("secrets-g1.map");

        switch (damage) {
            case TRUNCATED_TO_ZERO -> Files.write(file, new byte[0]);
            case TRUNCATED_TO_ONE_PAGE -> {
                try (var channel = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.WRITE)) {
                    channel.truncate(4096);
                }
            }
            case HEADER_OVERWRITTEN -> {
                try (var channel = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.WRITE)) {
                    channel.write(java.nio.ByteBuffer.wrap("garbage".getBytes()), 40);
                }
            }
            case FILE_DELETED -> Files.delete(file);
            case DIRECTORY_DELETED -> {
                try (var files = Files.walk(dir)) {
                    files.sorted(java.util.Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
                }
            }
            case POINTER_DELETED -> Files.delete(dir.resolve("current"));
        }
        if (damage.unsafe()) {
            reader.refresh(); // sees the damage (the size on every access, the header here) and stops touching it
            assertThat(reader.firstUse(id(2), T0.plusSeconds(600))).isEqualTo(ReplayCheck.UNAVAILABLE);
            assertThat(reader.keys()).as("keys stay on the heap").isPresent();
        }

        KeySchedule rotated = KeySchedule.at(T0.plus(ROTATION.period()), ROTATION, new RandomKeys());
        List<String> warnings;
        try (LogCapture log = new LogCapture(SharedSecretsOwner.class)) {
            owner.publish(rotated); // the rotation tick
            owner.publish(rotated); // and the next one: nothing more to say
            owner.sweep(T0);
            warnings = log.warnings();
        }

        assertThat(warnings).singleElement().asString().contains(damage.message)
                .contains("published the keys in a new generation 2");
        assertThat(replaced).singleElement().extracting(MapDamage.Found::kind).isEqualTo(damage.kind);
        assertThat(owner.generation()).isEqualTo(2);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir))).isEqualTo("rwx------");
        reader.refresh();
        assertThat(reader.generation()).isEqualTo(2);
        assertThat(reader.keys()).contains(rotated);
        assertThat(reader.firstUse(id(3), T0.plusSeconds(600))).isEqualTo(ReplayCheck.FIRST_USE);
        if (!damage.unsafe()) {
            assertThat(reader.firstUse(id(1), T0.plusSeconds(600))).as("replay records carried over")
                    .isEqualTo(ReplayCheck.REPLAYED);
        }
        assertThat(reader().generation()).as("a worker starting now").isEqualTo(2);
    }

    /** The ways the previous generation's file can be found broken when the owner starts. */
    enum Damage {
        GARBAGE_MARKED_COMPLETE, GARBAGE_MARKED_INCOMPLETE, TRUNCATED, EMPTY, MISSING
    }

    @ParameterizedTest
    @EnumSource(Damage.class)
    void brokenPreviousGenerationIsReplacedWithAWarning(Damage damage) throws Exception {
        SharedSecretsOwner first = owner();
        first.publish(KeySchedule.at(T0, ROTATION, new RandomKeys()));
        first.close();
        open.remove(first);
        damage(config().directory().resolve("secrets-g1.map"), damage);

        long start = System.nanoTime();
        SharedSecretsOwner second;
        List<String> warnings;
        try (LogCapture log = new LogCapture(SharedSecretsOwner.class)) {
            second = owner();
            warnings = log.warnings();
        }
        Duration took = Duration.ofNanos(System.nanoTime() - start);

        assertThat(warnings).singleElement().asString()
                .startsWith("shared secrets: previous generation 1 is unusable and is replaced without its keys or "
                            + "replay records: ");
        assertThat(took).as("no minute-long wait on a broken header").isLessThan(Duration.ofSeconds(5));
        assertThat(second.recovered()).isEmpty();
        assertThat(second.generation()).isEqualTo(2);
        KeySchedule schedule = KeySchedule.at(T0, ROTATION, new RandomKeys());
        second.publish(schedule);
        SharedSecrets reader = reader();
        assertThat(reader.keys()).contains(schedule);
        assertThat(reader.firstUse(id(1), T0.plusSeconds(60))).isEqualTo(ReplayCheck.FIRST_USE);
    }

    @Test
    void firstUseWinsOnceThenTheSameIdIsAReplay() throws Exception {
        owner();
        SharedSecrets worker0 = reader();
        SharedSecrets worker1 = reader();

        assertThat(worker0.firstUse(id(1), T0.plusSeconds(60))).isEqualTo(ReplayCheck.FIRST_USE);
        assertThat(worker1.firstUse(id(1), T0.plusSeconds(60))).isEqualTo(ReplayCheck.REPLAYED);
        assertThat(worker0.firstUse(id(1), T0.plusSeconds(60))).isEqualTo(ReplayCheck.REPLAYED);
        assertThat(worker1.firstUse(id(2), T0.plusSeconds(60))).isEqualTo(ReplayCheck.FIRST_USE);
    }

    @Test
    void expiredRecordCountsAsAbsentEvenBeforeTheSweep() throws Exception {
        owner();
        SharedSecrets reader = reader();
        reader.firstUse(id(1), T0.plusSeconds(60));

        clock.advance(Duration.ofSeconds(60));

        assertThat(reader.firstUse(id(1), T0.plusSeconds(120))).isEqualTo(ReplayCheck.FIRST_USE);
        assertThat(reader.firstUse(id(1), T0.plusSeconds(120))).isEqualTo(ReplayCheck.REPLAYED);
    }

    @Test
    void sweepRemovesExpiredRecordsAndKeepsLiveOnes() throws Exception {
        SharedSecretsOwner owner = owner();
        owner.publish(KeySchedule.at(T0, ROTATION, new RandomKeys()));
        SharedSecrets reader = reader();
        for (int i = 0; i < 300; i++) {
            reader.firstUse(id(i), T0.plusSeconds(i < 100 ? 10 : 100));
        }

        SweepResult early = owner.sweep(T0.plusSeconds(5));
        SweepResult later = owner.sweep(T0.plusSeconds(10));

        assertThat(early).isEqualTo(new SweepResult(0, 300, false));
        assertThat(later).isEqualTo(new SweepResult(100, 200, false));
        assertThat(owner.sweep(T0.plusSeconds(100))).isEqualTo(new SweepResult(200, 0, false));
        assertThat(reader.refresh()).as("the key schedule is not a replay record").isFalse();
        assertThat(reader.keys()).isPresent();
    }

    @Test
    void fullRegisterAnswersFullAndWarns() throws Exception {
        SharedSecretsConfig small = SharedSecretsConfig.builder(4433).directory(config().directory())
                .replayCapacity(100).wedgedAfter(WEDGED_AFTER).build();
        open.add(SharedSecretsOwner.create(small, clock));
        SharedSecrets reader = SharedSecrets.open(small, clock);
        open.add(reader);

        List<ReplayCheck> checks = new ArrayList<>();
        List<String> warnings;
        try (LogCapture log = new LogCapture(SharedSecrets.class)) {
            for (int i = 0; i < 20_000 && !checks.contains(ReplayCheck.FULL); i++) {
                checks.add(reader.firstUse(id(i), T0.plusSeconds(60)));
            }
            warnings = log.warnings();
        }

        assertThat(checks.getLast()).isEqualTo(ReplayCheck.FULL);
        assertThat(checks.subList(0, 100)).containsOnly(ReplayCheck.FIRST_USE);
        assertThat(warnings).containsExactly("shared secrets: the replay register in " + config().directory()
                .resolve("secrets-g1.map") + " is full, early data is refused (expected: a larger --shm-entries)");
    }

    @Test
    void wedgedSegmentFailsClosedQuicklyAndTheOwnerMovesEveryoneToANewGeneration() throws Exception {
        SharedSecretsOwner owner = owner();
        KeySchedule schedule = KeySchedule.at(T0, ROTATION, new RandomKeys());
        owner.publish(schedule);
        SharedSecrets reader = reader();
        reader.firstUse(id(7), T0.plusSeconds(60));

        try (LockHolder wedge = new LockHolder(config().directory().resolve("secrets-g1.map"),
                SecretsMap.replayKey(id(1)))) {
            long start = System.nanoTime();
            ReplayCheck check = reader.firstUse(id(1), T0.plusSeconds(60));
            Duration took = Duration.ofNanos(System.nanoTime() - start);

            assertThat(check).isEqualTo(ReplayCheck.UNAVAILABLE);
            assertThat(took).isLessThan(Duration.ofMillis(100));

            SweepResult sweep = owner.sweep(T0);
            reader.refresh();

            assertThat(sweep.newGeneration()).isTrue();
            assertThat(owner.generation()).isEqualTo(2);
            assertThat(reader.generation()).isEqualTo(2);
            assertThat(reader.firstUse(id(1), T0.plusSeconds(60))).isEqualTo(ReplayCheck.FIRST_USE);
            assertThat(reader.keys()).contains(schedule);
        }
    }

    @Test
    void lockedKeysAreServedFromTheHeapUntilTheOwnerPublishesInANewGeneration() throws Exception {
        SharedSecretsOwner owner = owner();
        KeySchedule before = KeySchedule.at(T0, ROTATION, new RandomKeys());
        owner.publish(before);
        SharedSecrets reader = reader();
        KeySchedule after = KeySchedule.at(T0.plus(ROTATION.period()), ROTATION, new RandomKeys());

        try (LockHolder wedge = new LockHolder(config().directory().resolve("secrets-g1.map"),
                SecretsMap.SCHEDULE_KEY)) {
            long start = System.nanoTime();
            boolean changed = reader.refresh();
            Duration took = Duration.ofNanos(System.nanoTime() - start);

            assertThat(changed).isFalse();
            assertThat(took).isLessThan(Duration.ofMillis(100));
            assertThat(reader.keys()).contains(before);

            owner.publish(after);

            assertThat(owner.generation()).isEqualTo(2);
            assertThat(reader.refresh()).isTrue();
            assertThat(reader.keys()).contains(after);
        }
    }

    private SharedSecretsConfig config() {
        return SharedSecretsConfig.builder(4433).directory(tmp.resolve("quicfleet-4433")).replayCapacity(10_000)
                .wedgedAfter(WEDGED_AFTER).build();
    }

    private SharedSecretsOwner owner() throws IOException {
        SharedSecretsOwner owner = SharedSecretsOwner.create(config(), clock);
        open.add(owner);
        return owner;
    }

    private SharedSecrets reader() throws IOException {
        SharedSecrets reader = SharedSecrets.open(config(), clock);
        open.add(reader);
        return reader;
    }

    private static byte[] id(int n) {
        byte[] id = new byte[32];
        new Random(n).nextBytes(id);
        return id;
    }

    private static void damage(Path file, Damage damage) throws IOException {
        byte[] garbage = new byte[4096];
        new Random(42).nextBytes(garbage);
        switch (damage) {
            case GARBAGE_MARKED_COMPLETE -> {
                garbage[11] &= 0x7f;
                Files.write(file, garbage);
            }
            case GARBAGE_MARKED_INCOMPLETE -> {
                garbage[11] |= (byte) 0x80;
                Files.write(file, garbage);
            }
            case TRUNCATED -> {
                byte[] head = new byte[4096];
                try (var in = Files.newInputStream(file)) {
                    in.readNBytes(head, 0, head.length);
                }
                Files.write(file, head);
            }
            case EMPTY -> Files.write(file, new byte[0]);
            case MISSING -> Files.delete(file);
        }
    }
}
