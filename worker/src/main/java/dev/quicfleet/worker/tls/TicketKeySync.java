package dev.quicfleet.worker.tls;

import dev.quicfleet.ticketcache.KeySchedule;
import dev.quicfleet.ticketcache.ReplayCheck;
import dev.quicfleet.ticketcache.Rotation;
import dev.quicfleet.ticketcache.SharedSecrets;
import dev.quicfleet.ticketcache.SharedSecretsConfig;
import dev.quicfleet.ticketcache.TicketKey;
import dev.quicfleet.ticketcache.TicketKeyRing;
import java.io.IOException;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a worker's TLS session-ticket keys equal to the cluster's, read from the shared map the supervisor publishes
 * (so a ticket issued by any worker resumes on every worker). Opening the map costs a second or more in a fresh JVM
 * (Chronicle generates code), so it happens on this class's own thread while the worker sets up TLS; the worker binds
 * its sockets only once {@link #applied()} completes, so it never issues or checks a ticket with keys of its own.
 * Every 250 ms it refreshes (the ring also changes with time) and applies a changed ring. Key bytes are never
 * logged, only key names.
 *
 * <p>If the map file is damaged (truncated: a mapping of it would raise SIGBUS), {@link SharedSecrets} stops touching
 * it, the keys in use stay, early data is refused, and the next refresh after the supervisor has published a new
 * generation moves there (docs/SHARED-SECRETS.md).
 */
public final class TicketKeySync implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(TicketKeySync.class);

    private final SharedSecretsConfig config;
    private final Consumer<List<TicketKey>> apply;
    private final Consumer<KeySchedule> quicKeys;
    private final Clock clock = Clock.systemUTC();
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("quicfleet-ticket-sync").factory());
    private volatile SharedSecrets secrets;
    private final CompletableFuture<Void> applied = new CompletableFuture<>();
    private TicketKeyRing appliedRing;
    private int failures;

    /**
     * @param config the shared map (its directory comes from the supervisor)
     * @param apply    sets the keys on every TLS context, current first (called on this class's thread)
     * @param quicKeys receives the whole schedule at every refresh (Retry token and stateless-reset keys)
     */
    public TicketKeySync(SharedSecretsConfig config, Consumer<List<TicketKey>> apply, Consumer<KeySchedule> quicKeys) {
        this.config = config;
        this.apply = apply;
        this.quicKeys = quicKeys;
    }

    /**
     * Completes once the cluster's ticket keys (and with them the Retry token and reset keys) have been applied for
     * the first time.
     */
    public CompletableFuture<Void> applied() {
        return applied;
    }

    public void start() {
        timer.scheduleWithFixedDelay(this::tick, 0, 250, TimeUnit.MILLISECONDS);
    }

    private void tick() {
        try {
            if (secrets == null) {
                try {
                    secrets = SharedSecrets.open(config, clock);
                } catch (IOException e) {
                    // The supervisor creates the map before it starts workers; keep trying, say so now and then.
                    if (failures++ % 40 == 0) {
                        log.warn("shared ticket keys not readable yet at {}: {}", config.directory(), e.getMessage());
                    }
                    return;
                }
            } else {
                secrets.refresh();
            }
            Optional<KeySchedule> schedule = secrets.keys();
            schedule.ifPresent(quicKeys);
            Optional<TicketKeyRing> ring = schedule.flatMap(keys -> keys.ticketKeyRing(clock.instant()));
            if (ring.isPresent() && !ring.get().equals(appliedRing)) {
                apply.accept(ring.get().decryptingKeys());
                if (appliedRing == null) {
                    log.info("shared ticket keys applied: {} keys, encrypting with {}", ring.get().decryptingKeys().size(),
                            ring.get().encryptingKey().nameHex());
                } else {
                    log.info("ticket keys changed: encrypting with {}", ring.get().encryptingKey().nameHex());
                }
                appliedRing = ring.get();
                applied.complete(null);
            }
        } catch (Throwable e) {
            // Errors too: one escaping would cancel this timer for good, and the worker would silently stop
            // following the cluster's keys (and the supervisor's new generations).
            if (failures++ % 40 == 0) {
                log.warn("cannot apply shared ticket keys (keeping the ones in use): {}", e.toString());
            }
        }
    }

    /**
     * Records an early-data handshake's client random in the cluster's replay register, for as long as a ticket of
     * the current keys can be presented (the ticket lifetime plus one rotation period). Fails closed
     * ({@link ReplayCheck#UNAVAILABLE}) while the map is not open.
     */
    public ReplayCheck firstUse(byte[] clientRandom) {
        SharedSecrets open = secrets;
        if (open == null) {
            return ReplayCheck.UNAVAILABLE;
        }
        Rotation rotation = open.keys().map(KeySchedule::rotation).orElse(Rotation.DEFAULT);
        return open.firstUse(clientRandom, clock.instant().plus(rotation.lifetime()).plus(rotation.period()));
    }

    @Override
    public void close() {
        timer.shutdownNow();
        if (secrets != null) {
            secrets.close();
        }
    }
}
