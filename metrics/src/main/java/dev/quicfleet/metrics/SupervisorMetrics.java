package dev.quicfleet.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The supervisor's own meters: build info, running workers, restarts, ticket key rotations and failed worker
 * scrapes, plus the supervisor JVM's JVM and process meters.
 *
 * <p>Per-slot counters are registered for every slot and reason in the constructor, so each series exists (at 0)
 * before its first event and {@code increase(quicfleet_worker_restarts_total[1h])} sees the first restart. Supervisor
 * series have no {@value MeterNames#TRANSPORT} tag, and the JVM and process series no {@value MeterNames#WORKER} tag,
 * which tells them apart from the workers' in the merged scrape.
 *
 * <p>Thread-safe. {@link ClusterScrape} renders these series together with the workers'.
 */
public final class SupervisorMetrics implements AutoCloseable {

    private final int workers;
    private final PrometheusMeterRegistry registry;
    private final JvmGcMetrics gcMetrics;
    private final AtomicInteger workersRunning = new AtomicInteger();
    /** Indexed by slot, then {@link RestartReason#ordinal()}. */
    private final Counter[][] restarts;
    /** Indexed by slot. */
    private final Counter[] scrapeErrors;
    private final Counter ticketKeyRotations;
    /** Indexed by the position of the reason in {@link #SHM_REPLACED_REASONS}. */
    private final Counter[] shmReplaced;
    /** Nanos ({@link System#nanoTime()}) when the published encrypting key became current; unset until published. */
    private final AtomicLong ticketKeyCurrentSince = new AtomicLong();
    private volatile boolean ticketKeyPublished;

    /**
     * The {@value MeterNames#REASON} values of {@value MeterNames#SHM_REPLACED}, all registered at 0 (the names of
     * {@code dev.quicfleet.ticketcache.MapDamage}, which this module does not depend on).
     */
    public static final List<String> SHM_REPLACED_REASONS = List.of("truncated", "overwritten", "deleted",
            "replaced", "wedged");

    /**
     * Creates the registry and every supervisor meter.
     *
     * @param version the quicfleet version, the {@value MeterNames#VERSION} tag of {@value MeterNames#BUILD_INFO}
     * @param workers the number of worker slots (slots are {@code 0..workers-1}), {@code >= 1}
     */
    public SupervisorMetrics(String version, int workers) {
        Objects.requireNonNull(version, "version");
        if (version.isBlank()) {
            throw new IllegalArgumentException("version: '" + version + "' (expected: a version such as 0.1.0)");
        }
        if (workers < 1) {
            throw new IllegalArgumentException("workers: " + workers + " (expected: >= 1)");
        }
        this.workers = workers;
        registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        gcMetrics = JvmBinders.bindTo(registry);

        // A gauge whose name ends in ".info" becomes an info metric: value 1, the data in its labels.
        Gauge.builder(MeterNames.BUILD_INFO, () -> 1)
                .description("quicfleet build information")
                .tag(MeterNames.VERSION, version)
                .register(registry);
        Gauge.builder(MeterNames.WORKERS_RUNNING, workersRunning, AtomicInteger::get)
                .description("Worker processes currently running")
                .strongReference(true)
                .register(registry);
        ticketKeyRotations = Counter.builder(MeterNames.TLS_TICKET_KEY_ROTATIONS)
                .description("TLS session ticket key rotations")
                .register(registry);
        Gauge.builder(MeterNames.TLS_TICKET_KEY_AGE, this, SupervisorMetrics::ticketKeyAgeSeconds)
                .description("Seconds since the TLS ticket key that encrypts new tickets became current, as last "
                        + "published to the workers; above the rotation period, rotation has stopped")
                .baseUnit("seconds")
                .strongReference(true)
                .register(registry);
        shmReplaced = new Counter[SHM_REPLACED_REASONS.size()];
        for (int i = 0; i < shmReplaced.length; i++) {
            shmReplaced[i] = Counter.builder(MeterNames.SHM_REPLACED)
                    .description("Shared-map generations replaced by a new one, by what was wrong with the file")
                    .tag(MeterNames.REASON, SHM_REPLACED_REASONS.get(i))
                    .register(registry);
        }
        RestartReason[] reasons = RestartReason.values();
        restarts = new Counter[workers][reasons.length];
        scrapeErrors = new Counter[workers];
        for (int slot = 0; slot < workers; slot++) {
            String worker = Integer.toString(slot);
            for (RestartReason reason : reasons) {
                restarts[slot][reason.ordinal()] = Counter.builder(MeterNames.WORKER_RESTARTS)
                        .description("Workers started again in their slot, by reason")
                        .tag(MeterNames.WORKER, worker)
                        .tag(MeterNames.REASON, reason.tagValue())
                        .register(registry);
            }
            scrapeErrors[slot] = Counter.builder(MeterNames.SCRAPE_ERRORS)
                    .description("Cluster scrapes in which a worker's series were missing or partly unreadable")
                    .tag(MeterNames.WORKER, worker)
                    .register(registry);
        }
    }

    /** The number of worker slots. */
    public int workers() {
        return workers;
    }

    /**
     * The underlying registry, for meters other supervisor parts bind at start-up. Give each a description:
     * {@code promtool check metrics} rejects a family without help text.
     */
    public MeterRegistry registry() {
        return registry;
    }

    /** Sets the number of worker processes currently running. */
    public void workersRunning(int running) {
        workersRunning.set(running);
    }

    /**
     * The worker in {@code slot} was started again.
     *
     * @throws IllegalArgumentException if {@code slot} is not in {@code 0..workers-1}
     */
    public void workerRestarted(int slot, RestartReason reason) {
        restarts[checkSlot(slot)][reason.ordinal()].increment();
    }

    /** The TLS ticket keys were rotated. */
    public void ticketKeyRotated() {
        ticketKeyRotations.increment();
    }

    /**
     * The ticket keys were published; the encrypting key became current {@code age} ago (the start of its epoch).
     * The age gauge grows from there until the next call with a younger key.
     */
    public void ticketKeyPublished(java.time.Duration age) {
        ticketKeyCurrentSince.set(System.nanoTime() - age.toNanos());
        ticketKeyPublished = true;
    }

    /**
     * The shared map was replaced by a new generation because of {@code reason}, one of
     * {@link #SHM_REPLACED_REASONS}.
     *
     * @throws IllegalArgumentException for another reason
     */
    public void shmReplaced(String reason) {
        int index = SHM_REPLACED_REASONS.indexOf(reason);
        if (index < 0) {
            throw new IllegalArgumentException("reason: " + reason + " (expected: one of " + SHM_REPLACED_REASONS
                    + ")");
        }
        shmReplaced[index].increment();
    }

    private double ticketKeyAgeSeconds() {
        if (!ticketKeyPublished) {
            return Double.NaN;
        }
        return (System.nanoTime() - ticketKeyCurrentSince.get()) / (double) TimeUnit.SECONDS.toNanos(1);
    }

    /** A cluster scrape got nothing, or not everything, from the worker in {@code slot}. */
    void scrapeFailed(int slot) {
        scrapeErrors[checkSlot(slot)].increment();
    }

    /** The current values of every supervisor series. */
    MetricSnapshots snapshot() {
        return registry.getPrometheusRegistry().scrape();
    }

    int checkSlot(int slot) {
        if (slot < 0 || slot >= workers) {
            throw new IllegalArgumentException("slot: " + slot + " (expected: 0.." + (workers - 1) + ")");
        }
        return slot;
    }

    /** Stops listening to GC notifications and closes the registry. */
    @Override
    public void close() {
        gcMetrics.close();
        registry.close();
    }
}
