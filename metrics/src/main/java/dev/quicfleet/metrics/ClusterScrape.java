package dev.quicfleet.metrics;

import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.DataPointSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.InfoSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricMetadata;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.StateSetSnapshot;
import io.prometheus.metrics.model.snapshots.SummarySnapshot;
import io.prometheus.metrics.model.snapshots.UnknownSnapshot;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The supervisor's {@code /metrics}: every worker's series plus the supervisor's own, as one valid exposition.
 *
 * <p>A scrape fetches all workers at once through the {@link WorkerScrapeFetcher}, waits for them at most the
 * deadline, and merges what arrived with the supervisor's {@link SupervisorMetrics} series: each worker text is parsed
 * into metric families, families of the same name from every source become one (one {@code # HELP} and
 * {@code # TYPE}, all samples together), and prometheus-metrics' own writers render the result, in the Prometheus
 * text format or OpenMetrics as the {@code Accept} header asks. So OpenMetrics' rules ({@code _total} on counter
 * samples, {@code _created}, info metrics, exactly one {@code # EOF} at the end) hold by construction.
 *
 * <p>Every worker series carries {@code worker="<slot>"}, set to the slot it was fetched from (a label of that name in
 * the worker's text is replaced), so two workers can never produce the same series.
 *
 * <p>A bad worker never fails the scrape; {@code quicfleet_scrape_errors_total{worker}} counts, at most once per
 * scrape, a worker that:
 * <ul>
 *   <li>failed, or had not answered at the deadline: it contributes nothing, and its future is cancelled;</li>
 *   <li>sent lines or families that could not be read ({@link PrometheusTextParser}): only those are left out;</li>
 *   <li>sent a family whose type differs from the one already merged under that name (the supervisor's, or a lower
 *       slot's; the first one wins), or a series already merged: only those are left out. These are found while
 *       merging, after the supervisor's series were read, so the count shows in the next scrape.</li>
 * </ul>
 *
 * <p>Thread-safe: concurrent scrapes share nothing but the counters.
 */
public final class ClusterScrape {

    private final SupervisorMetrics supervisor;
    private final WorkerScrapeFetcher fetcher;
    private final Duration deadline;

    /**
     * Creates the cluster scrape.
     *
     * @param supervisor the supervisor's meters, merged in and counting scrape errors
     * @param fetcher    fetches one worker's exposition
     * @param deadline   how long a scrape waits for workers, {@code > 0}; keep it under Prometheus'
     *                   {@code scrape_timeout} (10 s by default) minus the merge time (milliseconds)
     */
    public ClusterScrape(SupervisorMetrics supervisor, WorkerScrapeFetcher fetcher, Duration deadline) {
        this.supervisor = Objects.requireNonNull(supervisor, "supervisor");
        this.fetcher = Objects.requireNonNull(fetcher, "fetcher");
        Objects.requireNonNull(deadline, "deadline");
        if (deadline.isNegative() || deadline.isZero()) {
            throw new IllegalArgumentException("deadline: " + deadline + " (expected: > 0)");
        }
        this.deadline = deadline;
    }

    /** How long a scrape waits for workers. */
    public Duration deadline() {
        return deadline;
    }

    /**
     * Scrapes the workers in {@code slots} and merges them with the supervisor's series. Blocks the calling thread
     * (a virtual thread serving {@code /metrics}, say) for at most the {@linkplain #deadline() deadline} plus the
     * merge; throws nothing because of what a worker sent or failed to send.
     *
     * @param slots        the slots to fetch, usually those with a running worker; a slot left out is not an error
     * @param acceptHeader the scraper's {@code Accept} header, or {@code null}
     * @return the merged exposition, OpenMetrics if {@code acceptHeader} asks for it, otherwise Prometheus text
     * @throws IllegalArgumentException if a slot is outside {@code 0..workers-1} of the supervisor's meters
     */
    public Exposition scrape(Collection<Integer> slots, String acceptHeader) {
        long deadlineNanos = System.nanoTime() + deadline.toNanos();
        Map<Integer, CompletableFuture<String>> fetches = new TreeMap<>();
        for (int slot : slots) {
            supervisor.checkSlot(slot);
        }
        for (int slot : slots) {
            fetches.computeIfAbsent(slot, this::start);
        }
        awaitUntil(fetches.values(), deadlineNanos);

        Map<Integer, List<MetricSnapshot>> workerFamilies = new TreeMap<>();
        Set<Integer> failed = new HashSet<>();
        fetches.forEach((slot, fetch) -> {
            fetch.cancel(true); // does nothing to a completed fetch; tells a late one to give up
            Read read = read(slot, fetch);
            if (read != null) {
                workerFamilies.put(slot, read.families()); // a partly readable worker gives what could be read
            }
            if (read == null || !read.complete()) {
                failed.add(slot);
            }
        });
        failed.forEach(supervisor::scrapeFailed);

        Merge merge = new Merge();
        merge.add(supervisor.snapshot());
        workerFamilies.forEach((slot, families) -> {
            if (!merge.add(families) && failed.add(slot)) {
                supervisor.scrapeFailed(slot);
            }
        });
        return Exposition.render(merge.result(), acceptHeader);
    }

    private CompletableFuture<String> start(int slot) {
        try {
            CompletableFuture<String> fetch = fetcher.fetch(slot);
            return fetch != null ? fetch : CompletableFuture.failedFuture(
                    new NullPointerException("fetcher returned null for slot " + slot));
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    private static void awaitUntil(Collection<CompletableFuture<String>> fetches, long deadlineNanos) {
        try {
            CompletableFuture.allOf(fetches.toArray(CompletableFuture[]::new))
                    .get(Math.max(0, deadlineNanos - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException | ExecutionException e) {
            // Some fetch is late or failed; each one is looked at on its own.
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // answer with what is there, and let the caller see the interrupt
        }
    }

    /**
     * What a completed fetch held: the families that could be read, and whether that was all of it. {@code null}
     * if the fetch failed or is still running.
     */
    private static Read read(int slot, CompletableFuture<String> fetch) {
        if (!fetch.isDone() || fetch.isCompletedExceptionally()) {
            return null;
        }
        try {
            String text = fetch.getNow(null);
            if (text == null) {
                return null;
            }
            PrometheusTextParser.Result result =
                    PrometheusTextParser.parse(text, Labels.of(MeterNames.WORKER, Integer.toString(slot)));
            return new Read(result.snapshots(), result.problems() == 0);
        } catch (RuntimeException e) {
            return null; // a parser bug must not fail the cluster scrape either
        }
    }

    /** The families read from one worker, and whether nothing had to be skipped. */
    private record Read(List<MetricSnapshot> families, boolean complete) {
    }

    /** Families merged by Prometheus name, the first source's metadata and type winning. */
    private static final class Merge {
        private final Map<String, Family> families = new LinkedHashMap<>();

        /** Adds every family; {@code false} if a family or series was left out. */
        boolean add(Iterable<MetricSnapshot> snapshots) {
            boolean complete = true;
            for (MetricSnapshot snapshot : snapshots) {
                Family family = families.computeIfAbsent(snapshot.getMetadata().getPrometheusName(),
                                                         name -> new Family(snapshot));
                complete &= family.add(snapshot);
            }
            return complete;
        }

        MetricSnapshots result() {
            List<MetricSnapshot> merged = new ArrayList<>(families.size());
            for (Family family : families.values()) {
                merged.add(family.snapshot());
            }
            return new MetricSnapshots(merged);
        }
    }

    /** One merged family. */
    private static final class Family {
        private final MetricSnapshot first;
        private final List<DataPointSnapshot> points = new ArrayList<>();
        private final Set<Labels> labels = new HashSet<>();

        Family(MetricSnapshot first) {
            this.first = first;
        }

        /** Adds the series of {@code snapshot}; {@code false} if it has another type or a series was already here. */
        boolean add(MetricSnapshot snapshot) {
            if (snapshot.getClass() != first.getClass()
                || snapshot instanceof HistogramSnapshot histogram
                   && histogram.isGaugeHistogram() != ((HistogramSnapshot) first).isGaugeHistogram()) {
                return false;
            }
            boolean complete = true;
            for (DataPointSnapshot point : snapshot.getDataPoints()) {
                if (labels.add(point.getLabels())) {
                    points.add(point);
                } else {
                    complete = false;
                }
            }
            return complete;
        }

        @SuppressWarnings({"unchecked", "rawtypes"})
        MetricSnapshot snapshot() {
            MetricMetadata metadata = first.getMetadata();
            List raw = points;
            return switch (first) {
                case CounterSnapshot c -> new CounterSnapshot(metadata, raw);
                case GaugeSnapshot g -> new GaugeSnapshot(metadata, raw);
                case HistogramSnapshot h -> new HistogramSnapshot(h.isGaugeHistogram(), metadata, raw);
                case SummarySnapshot s -> new SummarySnapshot(metadata, raw);
                case InfoSnapshot i -> new InfoSnapshot(metadata, raw);
                case StateSetSnapshot s -> new StateSetSnapshot(metadata, raw);
                case UnknownSnapshot u -> new UnknownSnapshot(metadata, raw);
                default -> throw new IllegalStateException("unknown snapshot type " + first.getClass().getName());
            };
        }
    }
}
