package dev.quicfleet.ticketcache;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.Consumer;

/**
 * The one process (the supervisor) that creates the shared map, publishes the key schedule into it, sweeps expired
 * replay records and, when a killed process has left a segment locked, replaces the map with a new generation.
 *
 * <h2>Generations</h2>
 * Chronicle Map's segment locks are words in the shared file with no owner: a process killed by SIGKILL inside a
 * locked section leaves that segment locked for good, and the only repair, {@code recoverPersistedTo}, needs every
 * other process to close the map first. Instead of repairing in place, the owner abandons a wedged file:
 * <ol>
 *   <li>Each map file is one <em>generation</em>, {@code secrets-g<N>.map} in the {@link SecretsDirectory}; the file
 *       {@code current} names the generation in use.</li>
 *   <li>{@link #create} (at supervisor start) always makes generation {@code N + 1}, copying the key schedule and the
 *       live replay records it can read from generation {@code N} with bounded waits. A missing, corrupt or
 *       incompatible previous generation is logged (WARN) and skipped; there is no separate repair path.</li>
 *   <li>{@link #publish} and {@link #sweep} take each lock with a wait of {@link SharedSecretsConfig#wedgedAfter()};
 *       a lock held that long is a dead holder's, so the owner makes the next generation the same way, copying what
 *       it can read (records in a wedged segment are lost: those client randoms could be replayed once more before
 *       they expire; meanwhile the segment answered {@link ReplayCheck#UNAVAILABLE}, which refuses early data).</li>
 *   <li>The new generation is fully written before {@code current} is replaced (atomic rename), so a reader never
 *       sees a half-made map. Readers ({@link SharedSecrets#refresh()}) follow {@code current}; the previous file is
 *       kept (a process may be opening it right now), older ones are deleted. Unlinked files stay valid for processes
 *       that still map them.</li>
 *   <li>Workers keep writing to the previous generation until their next refresh, so the next {@link #sweep} copies
 *       its replay records once more before letting it go. A replay that reaches one worker still on the old
 *       generation and another already on the new one within that moment is not detected.</li>
 * </ol>
 * An OS file lock on {@code owner.lock} keeps a second supervisor on the same directory out; the kernel releases it
 * when the owner dies, however it dies.
 *
 * <h2>Damage</h2>
 * The owner's mapping is the one that is written every tick, so it must never touch a file that shrank (SIGBUS kills
 * the JVM). {@link #check()} (run it before every other access, e.g. each rotation tick) compares the file's size,
 * magic and header with what was mapped, checks that the file, the pointer and the directory are still there, and
 * on any damage makes a new generation the same way as for a wedge (recreating the directory if it was removed,
 * carrying over what can still be read safely), logs one WARN line naming the file and what was wrong, and tells
 * the {@link #onReplaced listener} (a metric). {@link #publish} and {@link #sweep} call it first themselves.
 *
 * <p>Not for the request path: every method may wait up to {@code wedgedAfter} and may create a file. Thread-safe
 * (methods are serialized).
 */
public final class SharedSecretsOwner implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(SharedSecretsOwner.class);

    private final SecretsDirectory directory;
    private final SharedSecretsConfig config;
    private final Clock clock;
    private FileLock ownerLock;
    private final Optional<KeySchedule> recovered;
    private Consumer<MapDamage.Found> onReplaced = found -> { };
    private SecretsMap map;
    /** The generation before {@link #map}, which workers may still write to; null once its records are copied. */
    private SecretsMap previous;
    private byte[] published;

    private SharedSecretsOwner(SecretsDirectory directory, SharedSecretsConfig config, Clock clock, FileLock ownerLock,
                               SecretsMap map, SecretsMap previous, Optional<KeySchedule> recovered) {
        this.directory = directory;
        this.config = config;
        this.clock = clock;
        this.ownerLock = ownerLock;
        this.map = map;
        this.previous = previous;
        this.recovered = recovered;
        this.published = recovered.map(KeySchedule::encode).orElse(null);
    }

    /**
     * Creates the directory (0700) if needed and a new generation of the map (0600) in it, carrying over the key
     * schedule and the live replay records of the previous generation where they can be read, and points readers at
     * it. Call it once, before any worker starts.
     *
     * @param clock decides which replay records have expired (they are not carried over)
     * @throws IOException if the directory cannot be used (wrong owner, not a directory, another supervisor holds it)
     *                     or the map cannot be created
     */
    public static SharedSecretsOwner create(SharedSecretsConfig config, Clock clock) throws IOException {
        Objects.requireNonNull(clock, "clock");
        SecretsDirectory directory = new SecretsDirectory(config.directory());
        directory.ensure();
        FileLock ownerLock = directory.lockOwner();
        SecretsMap map = null;
        SecretsMap previous = null;
        try {
            Optional<SecretsDirectory.Pointer> pointer = directory.pointer();
            long highest = directory.highestGeneration();
            long generation = Math.max(pointer.map(SecretsDirectory.Pointer::generation).orElse(0L), highest) + 1;
            map = SecretsMap.create(directory.file(generation), generation, config.replayCapacity());
            Optional<KeySchedule> recovered = Optional.empty();
            if (pointer.isPresent()) {
                previous = openPrevious(directory, pointer.get());
                if (previous != null) {
                    recovered = carryOver(previous, map, config, clock);
                }
            } else if (highest > 0) {
                log.warn("shared secrets: {} has map files but no readable 'current' pointer; starting generation {} "
                         + "without keys or replay records", directory, generation);
            } else {
                log.info("shared secrets: creating {}", directory);
            }
            directory.writePointer(generation, map.size());
            directory.deleteOlderThan(generation - 1);
            log.info("shared secrets: generation {} ready in {} ({} replay entries)", generation, directory,
                    config.replayCapacity());
            return new SharedSecretsOwner(directory, config, clock, ownerLock, map, previous, recovered);
        } catch (IOException | RuntimeException e) {
            release(map);
            release(previous);
            ownerLock.channel().close();
            throw e;
        }
    }

    /**
     * The key schedule found in the previous generation, if any: seed {@link RandomKeys} with its epochs so tickets
     * issued before a supervisor restart stay valid. It is already published in the new generation.
     */
    public Optional<KeySchedule> recovered() {
        return recovered;
    }

    /**
     * Called (on the thread that found it) each time a damaged or wedged generation has been replaced; set it before
     * the first {@link #check()}.
     */
    public synchronized void onReplaced(Consumer<MapDamage.Found> listener) {
        this.onReplaced = Objects.requireNonNull(listener, "listener");
    }

    /**
     * Checks the current generation without touching its mapping (size, magic and header, read from the file; the
     * file, the pointer and the directory still in place) and replaces it with a new generation if anything is
     * wrong.
     *
     * @return what was wrong, if anything (already replaced and logged)
     * @throws IOException if a new generation was needed but could not be made (the damaged one is not touched)
     */
    public synchronized Optional<MapDamage.Found> check() throws IOException {
        Optional<MapDamage.Found> damage = map.damage();
        if (damage.isEmpty()) {
            damage = pointerDamage();
        }
        if (damage.isPresent()) {
            newGeneration(damage.get());
        }
        return damage;
    }

    /** The pointer file missing, unreadable or naming another generation (the map file itself being fine). */
    private Optional<MapDamage.Found> pointerDamage() {
        Path pointerFile = directory.pointerFile();
        try {
            Optional<SecretsDirectory.Pointer> pointer = directory.pointer();
            if (pointer.isEmpty()) {
                return Optional.of(Files.exists(pointerFile)
                        ? new MapDamage.Found(MapDamage.OVERWRITTEN, pointerFile, "it no longer names a generation")
                        : new MapDamage.Found(MapDamage.DELETED, pointerFile, "it was deleted"));
            }
            if (pointer.get().generation() != map.generation()) {
                return Optional.of(new MapDamage.Found(MapDamage.REPLACED, pointerFile, "it names generation "
                        + pointer.get().generation() + " instead of " + map.generation()));
            }
            return Optional.empty();
        } catch (IOException e) {
            return Optional.of(new MapDamage.Found(MapDamage.DELETED, pointerFile, "it is unreadable ("
                    + e.getMessage() + ")"));
        }
    }

    /** The generation readers are pointed at. */
    public synchronized long generation() {
        return map.generation();
    }

    /**
     * Publishes {@code schedule} for every worker (they see it on their next {@link SharedSecrets#refresh()}). If the
     * entry's lock is wedged, moves to a new generation and publishes there.
     */
    public synchronized void publish(KeySchedule schedule) throws IOException {
        byte[] bytes = schedule.encode();
        published = bytes;
        if (check().isPresent()) {
            return; // the new generation was made with the schedule just set
        }
        if (!map.writeSchedule(bytes, config.wedgedAfter().toNanos())) {
            newGeneration(map.unsafe() ? map.damage().orElseThrow() : new MapDamage.Found(MapDamage.WEDGED,
                    map.file(), "its key schedule stayed locked for " + config.wedgedAfter()
                    + ": a process died holding the lock"));
        }
    }

    /**
     * Removes expired replay records (Chronicle Map has no expiry of its own); run it periodically, every few seconds,
     * from the owner only. After a generation change it first copies the records workers wrote to the previous
     * generation before they moved. A segment whose lock stays taken for {@link SharedSecretsConfig#wedgedAfter()}
     * makes the owner move to a new generation.
     */
    public synchronized SweepResult sweep(Instant now) throws IOException {
        if (check().isPresent()) {
            return new SweepResult(0, 0, true);
        }
        if (previous != null) {
            copyReplayRecords(previous, map, config, clock);
            release(previous);
            previous = null;
        }
        long removed = 0;
        long retained = 0;
        for (int segment = 0; segment < map.segments(); segment++) {
            Optional<long[]> counts = map.sweepSegment(segment, now.toEpochMilli(), config.wedgedAfter().toNanos());
            if (counts.isEmpty()) {
                newGeneration(map.unsafe() ? map.damage().orElseThrow() : new MapDamage.Found(MapDamage.WEDGED,
                        map.file(), "segment " + segment + " stayed locked for " + config.wedgedAfter()
                        + ": a process died holding the lock"));
                return new SweepResult(removed, retained, true);
            }
            removed += counts.get()[0];
            retained += counts.get()[1];
        }
        return new SweepResult(removed, retained, false);
    }

    /**
     * Moves everyone to a new generation now, carrying over the published schedule and the replay records that can
     * be read. {@link #publish} and {@link #sweep} do this by themselves when they find a wedged lock.
     */
    public synchronized void newGeneration() throws IOException {
        newGeneration(null);
    }

    /**
     * Makes generation {@code N + 1}, recreating the directory (and the owner lock) if it was removed, and points
     * readers at it; says why in one WARN line, or at INFO when asked for ({@code why} null).
     */
    private void newGeneration(MapDamage.Found why) throws IOException {
        directory.ensure();
        if (!Files.exists(directory.lockFile())) {
            // The directory was removed with the lock file in it: lock the new one, so the exclusion still holds.
            FileLock lock = directory.lockOwner();
            ownerLock.channel().close();
            ownerLock = lock;
        }
        long generation = Math.max(map.generation(), directory.highestGeneration()) + 1;
        SecretsMap next = SecretsMap.create(directory.file(generation), generation, config.replayCapacity());
        try {
            if (published != null && !next.writeSchedule(published, config.wedgedAfter().toNanos())) {
                throw new IOException("new shared map " + next.file() + " is locked by another process");
            }
            if (!map.unsafe()) {
                copyReplayRecords(map, next, config, clock);
            }
            directory.writePointer(generation, next.size());
        } catch (IOException | RuntimeException e) {
            release(next);
            throw e;
        }
        release(previous);
        previous = map.unsafe() ? null : map;
        if (previous == null) {
            release(map); // nothing can be read from it any more; unmapping is safe
        }
        long from = map.generation();
        map = next;
        directory.deleteOlderThan(generation - 1);
        if (why == null) {
            log.info("shared secrets: moved from generation {} to {}", from, generation);
            return;
        }
        log.warn("shared secrets: {}; published the keys in a new generation {} ({}){}", why, generation,
                next.file(), why.kind() == MapDamage.TRUNCATED || why.kind() == MapDamage.OVERWRITTEN
                        ? " without the 0-RTT replay records of the damaged one" : "");
        onReplaced.accept(why);
    }

    /** Closes the maps and releases the owner lock; the files stay for running workers and the next owner. */
    @Override
    public synchronized void close() throws IOException {
        release(previous);
        release(map);
        ownerLock.channel().close();
    }

    @Override
    public String toString() {
        return "SharedSecretsOwner[" + directory + ", generation " + map.generation() + "]";
    }

    /** The generation the pointer named, or null (with a warning) if it cannot be opened. */
    private static SecretsMap openPrevious(SecretsDirectory directory, SecretsDirectory.Pointer pointer) {
        long generation = pointer.generation();
        try {
            return SecretsMap.open(directory.file(generation), generation, pointer.size());
        } catch (IOException e) {
            log.warn("shared secrets: previous generation {} is unusable and is replaced without its keys or replay "
                     + "records: {}", generation, e.getMessage());
            return null;
        }
    }

    /** Copies the key schedule and the replay records of {@code source}; returns the schedule if it was usable. */
    private static Optional<KeySchedule> carryOver(SecretsMap source, SecretsMap target, SharedSecretsConfig config,
                                                   Clock clock) throws IOException {
        Optional<KeySchedule> schedule = Optional.empty();
        switch (source.readSchedule(config.wedgedAfter().toNanos())) {
            case SecretsMap.Read.Found found -> {
                try {
                    schedule = Optional.of(KeySchedule.decode(found.value()));
                } catch (IllegalArgumentException e) {
                    log.warn("shared secrets: keys in previous generation {} are incompatible and are not carried "
                             + "over: {}", source.generation(), e.getMessage());
                }
                if (schedule.isPresent() && !target.writeSchedule(found.value(), config.wedgedAfter().toNanos())) {
                    throw new IOException("new shared map " + target.file() + " is locked by another process");
                }
            }
            case SecretsMap.Read.Absent absent -> {
                // Nothing was published yet.
            }
            case SecretsMap.Read.Busy busy -> log.warn("shared secrets: keys in previous generation {} stayed locked "
                    + "for {} and are not carried over", source.generation(), config.wedgedAfter());
        }
        copyReplayRecords(source, target, config, clock);
        log.info("shared secrets: carried over {} from generation {}", schedule.map(Object::toString).orElse("no keys"),
                source.generation());
        return schedule;
    }

    /**
     * Copies the live replay records of every segment whose lock can be taken into {@code target} (records it already
     * holds stay as they are). The whole copy waits at most {@code wedgedAfter} for locks, and each write at most
     * {@code lockWait}: several wedged segments, in the source or in a live target, do not add up.
     */
    private static void copyReplayRecords(SecretsMap source, SecretsMap target, SharedSecretsConfig config,
                                          Clock clock) {
        if (source.unsafe()) {
            return; // truncated or overwritten since: its records cannot be read without risking SIGBUS
        }
        long deadline = System.nanoTime() + config.wedgedAfter().toNanos();
        long now = clock.millis();
        long copied = 0;
        long refused = 0;
        int lost = 0;
        boolean full = false;
        for (int segment = 0; segment < source.segments() && !full; segment++) {
            Optional<List<SecretsMap.ReplayRecord>> records = source.replayRecords(segment, now, remaining(deadline));
            if (records.isEmpty()) {
                lost++;
                continue;
            }
            for (SecretsMap.ReplayRecord record : records.get()) {
                switch (target.firstUse(record.id(), record.expiresAtMillis(), now,
                        Math.min(config.lockWait().toNanos(), remaining(deadline)))) {
                    case FIRST_USE -> copied++;
                    case UNAVAILABLE -> refused++;
                    case FULL -> full = true;
                    case REPLAYED -> {
                    }
                }
                if (full) {
                    break;
                }
            }
        }
        if (lost > 0) {
            log.warn("shared secrets: {} of {} replay-register segments of generation {} were locked by a dead process; "
                     + "their records are lost (those client randoms could be replayed once before they expire)", lost,
                    source.segments(), source.generation());
        }
        if (refused > 0) {
            log.warn("shared secrets: {} replay records of generation {} could not be copied to generation {}, whose "
                     + "segments were locked", refused, source.generation(), target.generation());
        }
        if (full) {
            log.warn("shared secrets: generation {} is too small for the replay records of generation {} (expected: "
                     + "a larger --shm-entries)", target.generation(), source.generation());
        }
        log.debug("shared secrets: copied {} replay records from generation {} to {}", copied, source.generation(),
                target.generation());
    }

    private static long remaining(long deadline) {
        return Math.max(0, deadline - System.nanoTime());
    }

    /** Lets go of a generation this process no longer uses (nothing if null). */
    private static void release(SecretsMap generation) {
        if (generation != null) {
            generation.retire();
            generation.closeIfIdle();
        }
    }
}
