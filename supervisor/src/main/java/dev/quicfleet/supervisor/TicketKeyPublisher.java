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
        KeySchedule schedule = KeySchedule.at(clock.instant(), rotation, keys);
        owner.publish(schedule);
        long epoch = rotation.epoch(clock.instant());
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
        } catch (IOException | RuntimeException e) {
            log.warn("cannot publish ticket keys (workers keep the keys they have): {}", e.toString());
        }
    }

    private void sweepQuietly() {
        try {
            owner.sweep(clock.instant());
        } catch (IOException | RuntimeException e) {
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
