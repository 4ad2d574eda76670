package dev.quicfleet.ticketcache;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A worker's view of the shared secrets: the key schedule, cached on the heap, and the 0-RTT replay register, both
 * kept in the shared map that the {@link SharedSecretsOwner} (the supervisor) creates.
 *
 * <p>Threads: {@link #keys()} only reads a field and {@link #firstUse} waits at most
 * {@link SharedSecretsConfig#lockWait()} for a lock, so both may run on an event loop. {@link #refresh()} may open a
 * file (when the owner moved to a new generation); call it from a scheduler thread, every 250 ms or so. The ticket
 * keys to install are {@code keys().flatMap(k -> k.ticketKeyRing(now))}: compare that ring with the one installed on
 * every tick, since it changes at epoch boundaries even when nothing new was published.
 *
 * <p>A process killed while holding a segment lock leaves it locked for good. A worker never waits for such a lock
 * beyond the bounded wait: the keys stay as last read, {@link #firstUse} answers {@link ReplayCheck#UNAVAILABLE} (so
 * the handshake goes without early data), and {@link #refresh()} follows the owner to the new generation it creates
 * when it notices the wedge.
 *
 * <p>A map file that shrank or was overwritten is never touched again (a truncated mapping raises SIGBUS, which kills
 * the JVM): every access checks the file's size first, {@link #refresh()} also its header. Meanwhile the keys stay as
 * last read (on the heap), early data is refused, and the next {@link #refresh()} after the owner has published a new
 * generation moves there, as it does after any generation change.
 */
public final class SharedSecrets implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(SharedSecrets.class);
    private static final long FULL_WARNING_INTERVAL_NANOS = 60_000_000_000L;

    private final SecretsDirectory directory;
    private final long lockWaitNanos;
    private final Clock clock;
    private final List<SecretsMap> retired = new ArrayList<>();
    private final AtomicLong lastFullWarning = new AtomicLong(System.nanoTime() - FULL_WARNING_INTERVAL_NANOS);

    private volatile SecretsMap map;
    private volatile KeySchedule keys;
    private byte[] scheduleBytes;
    private boolean unavailable;
    private long unreadableGeneration;
    private long damagedGeneration;

    private SharedSecrets(SecretsDirectory directory, SharedSecretsConfig config, Clock clock, SecretsMap map) {
        this.directory = directory;
        this.lockWaitNanos = config.lockWait().toNanos();
        this.clock = clock;
        this.map = map;
    }

    /**
     * Opens the current generation in {@code config.directory()} and reads the keys once. Never creates anything:
     * only the owner does.
     *
     * @throws IOException if there is no generation yet (start the owner first) or it cannot be opened
     */
    public static SharedSecrets open(SharedSecretsConfig config, Clock clock) throws IOException {
        Objects.requireNonNull(clock, "clock");
        SecretsDirectory directory = new SecretsDirectory(config.directory());
        SecretsMap map = openCurrent(directory);
        SharedSecrets secrets = new SharedSecrets(directory, config, clock, map);
        secrets.refresh();
        log.debug("shared secrets: opened generation {} in {}", map.generation(), directory);
        return secrets;
    }

    /** The key schedule as last read; empty until one has been published and read. Never touches the map. */
    public Optional<KeySchedule> keys() {
        return Optional.ofNullable(keys);
    }

    /** The generation this process reads. */
    public long generation() {
        return map.generation();
    }

    /**
     * Follows the owner to a new generation if it made one, then reads the key schedule with a bounded wait.
     *
     * @return whether {@link #keys()} changed
     */
    public synchronized boolean refresh() {
        followGeneration();
        retired.removeIf(SecretsMap::closeIfIdle);
        SecretsMap current = map;
        Optional<MapDamage.Found> damage = current.damage();
        if (damage.isPresent() && current.unsafe()) {
            if (damagedGeneration != current.generation()) {
                damagedGeneration = current.generation();
                log.warn("shared secrets: {}; not touching it again, keeping the keys in use and refusing early data "
                         + "until the supervisor publishes a new generation", damage.get());
            }
            return false;
        }
        switch (current.readSchedule(lockWaitNanos)) {
            case SecretsMap.Read.Found found -> {
                if (unavailable) {
                    unavailable = false;
                    log.info("shared secrets: keys readable again in generation {}", current.generation());
                }
                if (Arrays.equals(found.value(), scheduleBytes)) {
                    return false;
                }
                try {
                    keys = KeySchedule.decode(found.value());
                    scheduleBytes = found.value();
                    return true;
                } catch (IllegalArgumentException e) {
                    log.warn("shared secrets: keys in generation {} are unreadable ({}); keeping the previous keys",
                            current.generation(), e.getMessage());
                    return false;
                }
            }
            case SecretsMap.Read.Absent absent -> {
                return false;
            }
            case SecretsMap.Read.Busy busy -> {
                if (!unavailable) {
                    unavailable = true;
                    log.warn("shared secrets: keys in generation {} locked for more than {} µs; keeping the "
                             + "previous keys until the supervisor replaces the generation", current.generation(),
                            lockWaitNanos / 1000);
                }
                return false;
            }
        }
    }

    /**
     * Records the client random of an early-data handshake in the replay register until {@code expiresAt}, unless a
     * live record exists. Exactly one of several processes racing on the same id gets {@link ReplayCheck#FIRST_USE}.
     * Waits at most {@link SharedSecretsConfig#lockWait()}.
     *
     * @param clientRandom the id to record (the TLS client random; 1 to 64 bytes)
     * @param expiresAt    when the record may be dropped: no early data of this handshake can be accepted after it
     */
    public ReplayCheck firstUse(byte[] clientRandom, Instant expiresAt) {
        ReplayCheck check = map.firstUse(clientRandom, expiresAt.toEpochMilli(), clock.millis(), lockWaitNanos);
        if (check == ReplayCheck.FULL) {
            warnFull();
        }
        return check;
    }

    /** Stops using the map; operations still running finish first, then it is unmapped. */
    @Override
    public synchronized void close() {
        map.retire();
        retired.add(map);
        retired.removeIf(SecretsMap::closeIfIdle);
    }

    @Override
    public String toString() {
        return "SharedSecrets[" + directory + ", generation " + map.generation() + "]";
    }

    /**
     * Opens the generation the pointer names. If that fails because the owner just moved on (and deleted the file),
     * the pointer has changed: try the new one, a few times at most.
     */
    private static SecretsMap openCurrent(SecretsDirectory directory) throws IOException {
        for (int attempt = 1; ; attempt++) {
            Optional<SecretsDirectory.Pointer> pointer = directory.pointer();
            if (pointer.isEmpty()) {
                throw new IOException("no shared secrets in " + directory + " (expected: the supervisor creates them "
                        + "before starting workers)");
            }
            long generation = pointer.get().generation();
            try {
                return SecretsMap.open(directory.file(generation), generation, pointer.get().size());
            } catch (IOException e) {
                if (attempt == 3 || directory.readPointer().equals(OptionalLong.of(generation))) {
                    throw e;
                }
            }
        }
    }

    private void followGeneration() {
        Optional<SecretsDirectory.Pointer> pointer;
        try {
            pointer = directory.pointer();
        } catch (IOException e) {
            log.warn("shared secrets: cannot read the current generation in {} ({}); staying on generation {}",
                    directory, e.getMessage(), map.generation());
            return;
        }
        if (pointer.isEmpty() || pointer.get().generation() == map.generation()) {
            return;
        }
        long generation = pointer.get().generation();
        SecretsMap next;
        try {
            next = SecretsMap.open(directory.file(generation), generation, pointer.get().size());
        } catch (IOException e) {
            if (unreadableGeneration != generation) {
                unreadableGeneration = generation;
                log.warn("shared secrets: cannot open generation {} ({}); staying on generation {}", generation,
                        e.getMessage(), map.generation());
            }
            return;
        }
        SecretsMap previous = map;
        map = next;
        previous.retire();
        retired.add(previous);
        log.info("shared secrets: moved from generation {} to {}", previous.generation(), generation);
    }

    private void warnFull() {
        long now = System.nanoTime();
        long last = lastFullWarning.get();
        if (now - last >= FULL_WARNING_INTERVAL_NANOS && lastFullWarning.compareAndSet(last, now)) {
            log.warn("shared secrets: the replay register in {} is full, early data is refused (expected: a "
                     + "larger --shm-entries)", map.file());
        }
    }
}
