package dev.quicfleet.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.IntToDoubleFunction;

/**
 * The meters of one reverse-proxy pool: responses by upstream and status class, their latency, open connections,
 * health, failures by reason, retries, ejections. Every meter is created here, once; the request path only
 * increments them (by array index, no lookup). Thread-safe: every event loop of the worker records into the same
 * meters.
 */
public final class UpstreamMetrics {

    private static final String[] STATUS_CLASSES = {"1xx", "2xx", "3xx", "4xx", "5xx"};

    /** Indexed by upstream, then by status / 100 - 1. */
    private final Counter[][] responses;
    /** Indexed by upstream. */
    private final Timer[] durations;
    /** Indexed by upstream, then by {@link UpstreamEjection#ordinal()}. */
    private final Counter[][] ejections;
    /** Indexed by {@link UpstreamFailure#ordinal()}. */
    private final Counter[] failures;
    /** Indexed by {@link UpstreamRetry#ordinal()}. */
    private final Counter[] retries;

    /**
     * Registers the pool's meters.
     *
     * @param registry          the worker's registry ({@link WorkerMetrics#registry()})
     * @param pool              the pool's name, the {@value MeterNames#POOL} tag
     * @param upstreams         the pool's upstreams in order, the {@value MeterNames#UPSTREAM} tag
     * @param healthy           1 while upstream {@code i} may be picked, 0 while ejected (read at scrape time)
     * @param activeConnections upstream {@code i}'s open connections (read at scrape time)
     */
    public UpstreamMetrics(MeterRegistry registry, String pool, List<String> upstreams, IntToDoubleFunction healthy,
                           IntToDoubleFunction activeConnections) {
        Objects.requireNonNull(registry, "registry");
        Objects.requireNonNull(pool, "pool");
        int n = upstreams.size();
        responses = new Counter[n][STATUS_CLASSES.length];
        durations = new Timer[n];
        ejections = new Counter[n][UpstreamEjection.values().length];
        for (int i = 0; i < n; i++) {
            String upstream = upstreams.get(i);
            for (int c = 0; c < STATUS_CLASSES.length; c++) {
                responses[i][c] = Counter.builder(MeterNames.UPSTREAM_REQUESTS)
                        .description("Responses from reverse-proxy upstreams, by pool, upstream and status class")
                        .tag(MeterNames.POOL, pool)
                        .tag(MeterNames.UPSTREAM, upstream)
                        .tag(MeterNames.STATUS_CLASS, STATUS_CLASSES[c])
                        .register(registry);
            }
            durations[i] = Timer.builder(MeterNames.UPSTREAM_REQUEST_DURATION)
                    .description("Time from the request head sent upstream to the upstream's complete response")
                    .tag(MeterNames.POOL, pool)
                    .tag(MeterNames.UPSTREAM, upstream)
                    .serviceLevelObjectives(WorkerMetrics.DURATION_BUCKETS)
                    .register(registry);
            for (UpstreamEjection reason : UpstreamEjection.values()) {
                ejections[i][reason.ordinal()] = Counter.builder(MeterNames.UPSTREAM_EJECTIONS)
                        .description("Upstreams taken out of their pool, by reason")
                        .tag(MeterNames.POOL, pool)
                        .tag(MeterNames.UPSTREAM, upstream)
                        .tag(MeterNames.REASON, reason.tagValue())
                        .register(registry);
            }
            int index = i;
            Gauge.builder(MeterNames.UPSTREAM_HEALTHY, () -> healthy.applyAsDouble(index))
                    .description("1 while the upstream may be picked, 0 while it is ejected")
                    .tag(MeterNames.POOL, pool)
                    .tag(MeterNames.UPSTREAM, upstream)
                    .strongReference(true)
                    .register(registry);
            Gauge.builder(MeterNames.UPSTREAM_CONNECTIONS_ACTIVE, () -> activeConnections.applyAsDouble(index))
                    .description("Open connections to the upstream, idle or busy, on all event loops")
                    .tag(MeterNames.POOL, pool)
                    .tag(MeterNames.UPSTREAM, upstream)
                    .strongReference(true)
                    .register(registry);
        }
        failures = new Counter[UpstreamFailure.values().length];
        for (UpstreamFailure reason : UpstreamFailure.values()) {
            failures[reason.ordinal()] = Counter.builder(MeterNames.UPSTREAM_FAILURES)
                    .description("Proxied exchanges that failed, by reason (502/503/504 or a reset stream)")
                    .tag(MeterNames.POOL, pool)
                    .tag(MeterNames.REASON, reason.tagValue())
                    .register(registry);
        }
        retries = new Counter[UpstreamRetry.values().length];
        for (UpstreamRetry reason : UpstreamRetry.values()) {
            retries[reason.ordinal()] = Counter.builder(MeterNames.UPSTREAM_RETRIES)
                    .description("Proxied requests sent again, by reason")
                    .tag(MeterNames.POOL, pool)
                    .tag(MeterNames.REASON, reason.tagValue())
                    .register(registry);
        }
    }

    /** Meters that nobody scrapes: for a proxy not (yet) bound to a worker's registry. */
    public static UpstreamMetrics unbound(List<String> upstreams) {
        return new UpstreamMetrics(new SimpleMeterRegistry(), "unbound", upstreams, i -> 0, i -> 0);
    }

    /**
     * Upstream {@code upstream} answered with {@code status} after {@code durationNanos} (request head sent to the
     * response's end; negative: not recorded).
     */
    public void response(int upstream, int status, long durationNanos) {
        if (status >= 100 && status <= 599) {
            responses[upstream][status / 100 - 1].increment();
        }
        if (durationNanos >= 0) {
            durations[upstream].record(durationNanos, TimeUnit.NANOSECONDS);
        }
    }

    /** An exchange failed for {@code reason}. */
    public void failure(UpstreamFailure reason) {
        failures[reason.ordinal()].increment();
    }

    /** A request was sent again for {@code reason}. */
    public void retry(UpstreamRetry reason) {
        retries[reason.ordinal()].increment();
    }

    /** Upstream {@code upstream} was ejected for {@code reason}. */
    public void ejected(int upstream, UpstreamEjection reason) {
        ejections[upstream][reason.ordinal()].increment();
    }

    /** The count of {@link #failure} for {@code reason} (for tests and logs). */
    public long failures(UpstreamFailure reason) {
        return (long) failures[reason.ordinal()].count();
    }

    /** The count of {@link #retry} for {@code reason} (for tests and logs). */
    public long retries(UpstreamRetry reason) {
        return (long) retries[reason.ordinal()].count();
    }

    /** The count of {@link #ejected} for {@code upstream} and {@code reason} (for tests and logs). */
    public long ejections(int upstream, UpstreamEjection reason) {
        return (long) ejections[upstream][reason.ordinal()].count();
    }

    /** The responses of {@code upstream} in a status class, {@code 1}..{@code 5} (for tests and logs). */
    public long responses(int upstream, int statusClass) {
        return (long) responses[upstream][statusClass - 1].count();
    }
}
