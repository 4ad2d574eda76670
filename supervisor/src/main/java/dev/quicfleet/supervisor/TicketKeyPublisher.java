package dev.quicfleet.supervisor;

import dev.quicfleet.metrics.SupervisorMetrics;
import dev.quicfleet.ticketcache.ClusterSecret;
import dev.quicfleet.ticketcache.KeySchedule;
import dev.quicfleet.ticketcache.KeySource;
import dev.quicfleet.ticketcache.RandomKeys;
import dev.quicfleet.ticketcache.Rotation;
import dev.quicfleet.ticketcache.SharedSecretsConfig;
import dev.quicfleet.ticketcache.SharedSecretsOwner;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The supervisor's side of the shared ticket cache: creates the shared map before any worker starts, publishes the
 * ticket-key schedule (random keys, kept across a supervisor restart) and keeps it current as the rotation moves on,
 * and sweeps expired replay records. Workers only read. Runs on a timer thread of its own, never on an event loop.
 *
 * <p>Every tick first checks the map file without touching the mapping ({@link SharedSecretsOwner#check()}): a file
 * that was truncated, overwritten or removed is replaced by a new generation, said once in a WARN line and counted in
 * {@code quicfleet_shm_replaced_total}. A tick never ends the timer, whatever it throws: rotation that stops would
 * be silent (workers keep encrypting with an old key until it expires). {@code quicfleet_tls_ticket_key_age_seconds}
 * shows it anyway: it exceeds the rotation period only if publishing has stopped.
 */
final class TicketKeyPublisher implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(TicketKeyPublisher.class);

    private final SharedSecretsConfig config;
    private final SharedSecretsOwner owner;
    private final KeySource keys;
    private final Rotation rotation;
    private final Clock clock;
    private final SupervisorMetrics metrics;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("quicfleet-ticket-keys").factory());
    private volatile long publishedEpoch = Long.MIN_VALUE;
    /** Whether the last tick failed (touched by the timer thread only): failures are reported once, not per tick. */
    private boolean failing;

    private TicketKeyPublisher(SharedSecretsConfig config, SharedSecretsOwner owner, KeySource keys,
                               Rotation rotation, Clock clock, SupervisorMetrics metrics) {
        this.config = config;
        this.owner = owner;
        this.keys = keys;
        this.rotation = rotation;
        this.clock = clock;
        this.metrics = metrics;
    }

    /**
     * Creates (or takes over) the shared map {@code config} names and publishes the first schedule: keys derived from
     * {@code clusterSecret}, or random ones (kept across a supervisor restart) without one.
     *
     * @throws IOException naming the directory when it cannot be created or is owned by another supervisor
     */
    static TicketKeyPublisher start(SharedSecretsConfig config, Rotation rotation, ClusterSecret clusterSecret,
                                    SupervisorMetrics metrics) throws IOException {
        Clock clock = Clock.systemUTC();
        SharedSecretsOwner owner = SharedSecretsOwner.create(config, clock);
        // With a cluster secret every host derives the same keys per epoch (HKDF): tickets resume across hosts.
        KeySource keys = clusterSecret != null ? clusterSecret
                : new RandomKeys(owner.recovered().map(KeySchedule::epochs).orElse(List.of()));
        if (clusterSecret != null) {
            log.info("ticket keys derived from cluster secret {}", clusterSecret.fingerprint());
        }
        TicketKeyPublisher publisher = new TicketKeyPublisher(config, owner, keys, rotation, clock, metrics);
        owner.onReplaced(damage -> metrics.shmReplaced(damage.kind().tagValue()));
        publisher.publish();
        publisher.timer.scheduleWithFixedDelay(publisher::publishQuietly, 1, 1, TimeUnit.SECONDS);
        publisher.timer.scheduleWithFixedDelay(publisher::sweepQuietly, 30, 30, TimeUnit.SECONDS);
        return publisher;
    }

    /** The shared map's directory, passed to the workers. */
    Path directory() {
        return config.directory();
    }

    private void publish() throws IOException {
        Instant now = clock.instant();
        KeySchedule schedule = KeySchedule.at(now, rotation, keys);
        owner.publish(schedule); // checks the file first and moves to a new generation if it is damaged
        long epoch = rotation.epoch(now);
        metrics.ticketKeyPublished(Duration.between(rotation.start(epoch), now));
        if (epoch != publishedEpoch) {
            if (publishedEpoch != Long.MIN_VALUE) {
                metrics.ticketKeyRotated();
                log.info("ticket keys rotated to epoch {}", epoch);
            }
            publishedEpoch = epoch;
        }
    }

    private void publishQuietly() {
        try {
            publish();
            if (failing) {
                failing = false;
                log.info("ticket keys published again in {}", config.directory());
            }
        } catch (Throwable e) {
            // Errors too: one escaping would cancel this timer for good, and rotation would stop without a word.
            if (!failing) {
                failing = true;
                log.warn("cannot publish ticket keys in {} (workers keep the keys they have; retrying every second, "
                         + "quicfleet_tls_ticket_key_age_seconds grows): {}", config.directory(), e.toString());
            }
        }
    }

    private void sweepQuietly() {
        try {
            owner.sweep(clock.instant());
        } catch (Throwable e) {
            // Errors too: the sweep must keep running (see publishQuietly).
            log.warn("cannot sweep the 0-RTT replay register: {}", e.toString());
        }
    }

    @Override
    public void close() {
        close(false);
    }

    /**
     * Stops publishing and closes the map. With {@code delete}, the map's directory goes too: a cluster on a port
     * picked at random (port 0) can never be restarted onto its map, and tmpfs is memory. A cluster on a fixed port
     * keeps it, so tickets survive a planned restart.
     */
    void close(boolean delete) {
        timer.shutdownNow();
        try {
            owner.close();
        } catch (IOException e) {
            log.warn("closing the shared ticket map: {}", e.toString());
        }
        if (delete) {
            try (var files = java.nio.file.Files.walk(config.directory())) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
            } catch (IOException e) {
                log.warn("cannot remove {}: {}", config.directory(), e.toString());
            }
        }
    }
}
