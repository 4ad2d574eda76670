package dev.quicfleet.supervisor;

import dev.quicfleet.metrics.ClusterScrape;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The status page's memory: every {@link #INTERVAL} the supervisor scrapes its own cluster (the same merged
 * exposition Prometheus gets), turns the counters into per-second rates over the interval and keeps the last
 * {@link #CAPACITY} samples (10 minutes) in a ring. Nothing is stored on disk; a restarted supervisor starts empty.
 *
 * <p>Rates are computed per series, like Prometheus' {@code rate()}: a counter that went down belongs to a respawned
 * worker, and its new value is the increase since the restart.
 */
final class StatusSampler implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(StatusSampler.class);
    /** How often the supervisor scrapes itself for the status page. */
    static final Duration INTERVAL = Duration.ofSeconds(2);
    /** Samples kept: 10 minutes at {@link #INTERVAL}. */
    static final int CAPACITY = 300;

    /** One point of the status page's charts; rates are per second over the interval before {@code time}. */
    record Sample(long time, Map<String, Double> rates, int workersRunning, double restarts, Double keyAgeSeconds,
                  double connections, Double zeroRttShare) {
    }

    /** The rates each sample carries: key → family and the labels a series must have (all of them). */
    private static final Map<String, String[]> RATES = rates();

    private final ClusterScrape scrape;
    private final Supplier<List<Integer>> slots;
    private final ArrayDeque<Sample> samples = new ArrayDeque<>(CAPACITY);
    private ScheduledExecutorService timer;
    private Map<String, Double> previous;
    private long previousNanos;

    /** A sampler that samples only when {@link #sample} is called (see {@link #start}). */
    StatusSampler(ClusterScrape scrape, Supplier<List<Integer>> slots) {
        this.scrape = scrape;
        this.slots = slots;
    }

    /**
     * Starts sampling through {@code scrape} every {@link #INTERVAL}, the first time at once. Only the slots whose
     * worker serves ({@code slots}, asked each time) are scraped: a worker that is starting or backing off is not
     * counted in {@code quicfleet_scrape_errors_total} every 2 s by the status page; Prometheus' scrapes still count
     * it.
     */
    static StatusSampler start(ClusterScrape scrape, Supplier<List<Integer>> slots) {
        StatusSampler sampler = new StatusSampler(scrape, slots);
        sampler.timer = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon()
                .name("quicfleet-status-sampler").factory());
        sampler.timer.scheduleAtFixedRate(sampler::sampleQuietly, 0, INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
        return sampler;
    }

    /** The samples held now, oldest first. */
    synchronized List<Sample> samples() {
        return new ArrayList<>(samples);
    }

    private void sampleQuietly() {
        try {
            sample(scrape.scrape(slots.get(), null).body(), System.nanoTime(), System.currentTimeMillis());
        } catch (RuntimeException e) {
            // a scheduled task that throws is never run again: log and keep sampling
            log.warn("status page: cannot sample the cluster's metrics: {}", e.toString());
        }
    }

    /** Reads one exposition (Prometheus text 0.0.4) taken at {@code nanos} and appends a sample. */
    synchronized void sample(String exposition, long nanos, long epochMillis) {
        Map<String, Double> values = new HashMap<>();
        Map<String, Double> rates = new LinkedHashMap<>();
        RATES.keySet().forEach(key -> rates.put(key, 0.0));
        int running = 0;
        double restarts = 0;
        double connections = 0;
        Double keyAge = null;
        double seconds = previous == null ? 0 : (nanos - previousNanos) / 1e9;
        for (String line : exposition.split("\n")) {
            if (line.isEmpty() || line.charAt(0) == '#') {
                continue;
            }
            int space = line.lastIndexOf(' ');
            int brace = line.indexOf('{');
            String family = line.substring(0, brace > 0 && brace < space ? brace : line.indexOf(' '));
            double value;
            try {
                value = Double.parseDouble(line.substring(space + 1));
            } catch (NumberFormatException e) {
                continue;
            }
            switch (family) {
                case "quicfleet_workers_running" -> running = (int) value;
                case "quicfleet_worker_restarts_total" -> restarts += value;
                case "quicfleet_quic_connections_active" -> connections += value;
                case "quicfleet_tls_ticket_key_age_seconds" -> keyAge = Double.isNaN(value) ? null : value;
                default -> {
                    if (!family.startsWith("quicfleet_") || !family.endsWith("_total")) {
                        continue;
                    }
                    String series = line.substring(0, space);
                    values.put(series, value);
                    if (previous == null || seconds <= 0) {
                        continue;
                    }
                    Double before = previous.get(series);
                    double increase = before == null ? 0 : value >= before ? value - before : value;
                    if (increase == 0) {
                        continue;
                    }
                    for (Map.Entry<String, String[]> rate : RATES.entrySet()) {
                        if (matches(family, series, rate.getValue())) {
                            rates.merge(rate.getKey(), increase / seconds, Double::sum);
                        }
                    }
                }
            }
        }
        boolean first = previous == null;
        previous = values;
        previousNanos = nanos;
        if (first) {
            return; // a rate needs two scrapes
        }
        double h3 = rates.get("requests_h3");
        Double share = h3 > 0 ? Math.min(1, rates.get("early_data_accepted") / h3) : null;
        if (samples.size() == CAPACITY) {
            samples.removeFirst();
        }
        samples.addLast(new Sample(epochMillis, rates, running, restarts, keyAge, connections, share));
    }

    private static boolean matches(String family, String series, String[] wanted) {
        if (!family.equals(wanted[0])) {
            return false;
        }
        for (int i = 1; i < wanted.length; i++) {
            if (!series.contains(wanted[i])) {
                return false;
            }
        }
        return true;
    }

    private static Map<String, String[]> rates() {
        Map<String, String[]> rates = new LinkedHashMap<>();
        String requests = "quicfleet_http_requests_total";
        String handshakes = "quicfleet_quic_handshakes_total";
        String early = "quicfleet_quic_early_data_requests_total";
        rates.put("requests", new String[] {requests});
        rates.put("requests_h3", new String[] {requests, "protocol=\"h3\""});
        rates.put("requests_h2", new String[] {requests, "protocol=\"h2\""});
        rates.put("requests_http1", new String[] {requests, "protocol=\"http/1.1\""});
        rates.put("requests_5xx", new String[] {requests, "status_class=\"5xx\""});
        rates.put("handshakes_full", new String[] {handshakes, "result=\"success\"", "resumed=\"false\""});
        rates.put("handshakes_resumed", new String[] {handshakes, "result=\"success\"", "resumed=\"true\""});
        rates.put("handshakes_failed", new String[] {handshakes, "result=\"failure\""});
        rates.put("retry_sent", new String[] {"quicfleet_quic_retry_sent_total"});
        rates.put("early_data_accepted", new String[] {early, "outcome=\"accepted\""});
        rates.put("early_data_deferred", new String[] {early, "outcome=\"deferred\""});
        rates.put("early_data_too_early", new String[] {early, "outcome=\"too_early\""});
        rates.put("early_data_replayed", new String[] {early, "outcome=\"replayed\""});
        rates.put("stateless_resets", new String[] {"quicfleet_quic_stateless_resets_total", "outcome=\"sent\""});
        rates.put("packets_misrouted", new String[] {"quicfleet_quic_packets_misrouted_total"});
        return rates;
    }

    @Override
    public void close() {
        if (timer != null) {
            timer.shutdownNow();
        }
    }
}
