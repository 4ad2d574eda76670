package dev.quicfleet.client;

import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;

/**
 * One h3load run. Requests chain on the event loops (a response's completion sends the next request), so the
 * generator needs no thread per request: {@code connections × streams} "lanes" each keep one request in flight.
 */
final class LoadRun {

    /** What to run. {@code requests} is -1 when {@code duration} bounds the run instead. */
    record Settings(H3Request request, InetSocketAddress address, int connections, int streams, long requests,
                    Duration duration, boolean newConnectionPerRequest, boolean resume, boolean earlyData) {
    }

    private final H3Client client;
    private final Settings settings;
    private final PrintStream progress;

    private final AtomicLong budget = new AtomicLong();
    private volatile long deadlineNanos = Long.MAX_VALUE;
    private final LongAdder started = new LongAdder();
    private final LongAdder responses = new LongAdder();
    private final LongAdder failed = new LongAdder();
    private final LongAdder bytes = new LongAdder();
    private final LongAdder handshakes = new LongAdder();
    private final LongAdder resumed = new LongAdder();
    private final LongAdder earlySent = new LongAdder();
    private final LongAdder earlyAccepted = new LongAdder();
    private final AtomicInteger open = new AtomicInteger();
    private final Map<String, LongAdder> errors = new ConcurrentHashMap<>();
    private final Map<String, String> firstErrors = new ConcurrentHashMap<>();
    private final Map<Integer, LongAdder> statuses = new ConcurrentHashMap<>();
    private final Histogram latency = new ConcurrentHistogram(TimeUnit.MINUTES.toMicros(10), 3);
    private final Histogram handshakeLatency = new ConcurrentHistogram(TimeUnit.MINUTES.toMicros(10), 3);
    private CountDownLatch lanes;

    LoadRun(H3Client client, Settings settings, PrintStream progress) {
        this.client = client;
        this.settings = settings;
        this.progress = progress;
    }

    LoadReport run() throws InterruptedException {
        String primed = null;
        if (settings.resume()) {
            primed = prime();
        }
        var os = ManagementFactory.getOperatingSystemMXBean();
        long cpu0 = processCpuNanos(os);
        long t0 = System.nanoTime();
        if (settings.requests() > 0) {
            budget.set(settings.requests());
        } else {
            budget.set(Long.MAX_VALUE);
            deadlineNanos = t0 + settings.duration().toNanos();
        }
        int laneCount = settings.connections() * settings.streams();
        lanes = new CountDownLatch(laneCount);
        Thread ticker = progress == null ? null : Thread.ofPlatform().daemon().name("h3load-progress")
                .start(() -> tick(t0));
        Slot[] slots = new Slot[settings.connections()];
        for (int c = 0; c < slots.length; c++) {
            slots[c] = new Slot();
            for (int s = 0; s < settings.streams(); s++) {
                if (settings.newConnectionPerRequest()) {
                    nextOnNewConnection();
                } else {
                    next(slots[c]);
                }
            }
        }
        long bound = settings.requests() > 0 ? Long.MAX_VALUE
                : settings.duration().toMillis() + settings.request().timeout().toMillis() + 15_000;
        boolean finished = lanes.await(bound, TimeUnit.MILLISECONDS);
        long wall = System.nanoTime() - t0;
        long cpu = processCpuNanos(os) - cpu0;
        if (ticker != null) {
            ticker.interrupt();
        }
        for (Slot slot : slots) {
            slot.close();
        }
        return report(wall, cpu, finished, primed);
    }

    /** One connection (reopened after it fails) shared by {@code streams} lanes. */
    private final class Slot {
        private H3Connection connection;

        synchronized H3Connection connection() {
            if (connection == null || !connection.isOpen()) {
                connection = openConnection();
            }
            return connection;
        }

        synchronized void close() {
            if (connection != null) {
                try {
                    connection.closeAsync().get(5, TimeUnit.SECONDS);
                } catch (Exception e) {
                    // closing is best effort
                }
            }
        }
    }

    private H3Connection openConnection() {
        long t = System.nanoTime();
        H3Connection c = client.open(settings.address(), settings.request().uri().getHost(), settings.request().port());
        open.incrementAndGet();
        c.closeFuture().whenComplete((v, e) -> open.decrementAndGet());
        c.handshake().whenComplete((conn, e) -> {
            if (e == null) {
                handshakes.increment();
                handshakeLatency.recordValue(Math.max(1, (System.nanoTime() - t) / 1000));
                if (Boolean.TRUE.equals(conn.resumed())) {
                    resumed.increment();
                }
                if (conn.earlyData().sent()) {
                    earlySent.increment();
                }
                if (conn.earlyData() == EarlyData.ACCEPTED) {
                    earlyAccepted.increment();
                }
            }
        });
        return c;
    }

    private boolean take() {
        if (System.nanoTime() >= deadlineNanos) {
            return false;
        }
        return budget.getAndDecrement() > 0;
    }

    private void next(Slot slot) {
        if (!take()) {
            lanes.countDown();
            return;
        }
        H3Connection c = slot.connection();
        long t = System.nanoTime();
        started.increment();
        c.send(settings.request(), BodyHandler.discarding()).whenComplete((r, e) -> {
            record(r, e, t);
            next(slot);
        });
    }

    private void nextOnNewConnection() {
        if (!take()) {
            lanes.countDown();
            return;
        }
        long t = System.nanoTime();
        started.increment();
        H3Connection c = openConnection();
        c.send(settings.request(), BodyHandler.discarding()).whenComplete((r, e) -> {
            record(r, e, t);
            c.closeAsync().whenComplete((v, x) -> nextOnNewConnection());
        });
    }

    private void record(H3Response<Long> response, Throwable failure, long startNanos) {
        if (failure == null) {
            latency.recordValue(Math.max(1, (System.nanoTime() - startNanos) / 1000));
            responses.increment();
            bytes.add(response.body());
            statuses.computeIfAbsent(response.status(), k -> new LongAdder()).increment();
        } else {
            Throwable cause = failure instanceof java.util.concurrent.CompletionException && failure.getCause() != null
                    ? failure.getCause() : failure;
            String kind = cause instanceof H3Exception h3 ? h3.kind() : "other";
            failed.increment();
            errors.computeIfAbsent(kind, k -> new LongAdder()).increment();
            firstErrors.putIfAbsent(kind, String.valueOf(cause.getMessage()));
        }
    }

    /** One connection before the run, not counted, so the run's connections have a ticket to resume. */
    private String prime() throws InterruptedException {
        H3Connection c = client.open(settings.address(), settings.request().uri().getHost(),
                settings.request().port());
        try {
            H3Client.await(c.send(settings.request(), BodyHandler.discarding()));
            boolean ticket = H3Client.await(c.awaitTicket(Duration.ofSeconds(2)));
            c.closeAsync().get(5, TimeUnit.SECONDS);
            return ticket ? "priming connection got a session ticket"
                    : "priming connection got no session ticket within 2s: connections will do full handshakes";
        } catch (H3Exception e) {
            return "priming connection failed: " + e.getMessage();
        } catch (Exception e) {
            return "priming connection did not close: " + e;
        }
    }

    private void tick(long t0) {
        long last = 0;
        try {
            while (true) {
                Thread.sleep(1000);
                long done = responses.sum() + failed.sum();
                double secs = (System.nanoTime() - t0) / 1e9;
                String of = settings.requests() > 0 ? String.format(Locale.ROOT, " of %d (%.0f%%)", settings.requests(),
                        100.0 * done / settings.requests()) : "";
                progress.printf(Locale.ROOT, "progress: %5.1fs %d done%s, %d req/s, %d connections open, %d errors%n",
                        secs, done, of, done - last, open.get(), failed.sum());
                last = done;
            }
        } catch (InterruptedException e) {
            // run over
        }
    }

    private static long processCpuNanos(java.lang.management.OperatingSystemMXBean os) {
        if (os instanceof com.sun.management.OperatingSystemMXBean sun) {
            long n = sun.getProcessCpuTime();
            if (n >= 0) {
                return n;
            }
        }
        return ProcessHandle.current().info().totalCpuDuration().map(Duration::toNanos).orElse(0L);
    }

    private LoadReport report(long wallNanos, long cpuNanos, boolean finished, String primed) {
        double secs = wallNanos / 1e9;
        Map<String, Long> errs = new TreeMap<>();
        errors.forEach((k, v) -> errs.put(k, v.sum()));
        Map<String, Long> codes = new TreeMap<>();
        statuses.forEach((k, v) -> codes.put(Integer.toString(k), v.sum()));
        long hs = handshakes.sum();
        return new LoadReport(settings.request().uri().toString(), settings.connections(), settings.streams(),
                settings.newConnectionPerRequest(), settings.resume(), settings.earlyData(), primed,
                Math.round(secs * 1000) / 1000.0, finished,
                new LoadReport.Requests(started.sum(), responses.sum(), failed.sum(), responses.sum() / secs,
                        bytes.sum()),
                new LoadReport.Handshakes(hs, hs / secs, resumed.sum(), percent(resumed.sum(), hs), earlySent.sum(),
                        earlyAccepted.sum(), percent(earlyAccepted.sum(), hs)),
                LoadReport.Latency.of(latency), LoadReport.Latency.of(handshakeLatency), codes, errs,
                new TreeMap<>(firstErrors),
                new LoadReport.Cpu(Math.round(cpuNanos / 1e6) / 1000.0, percent(cpuNanos, wallNanos),
                        Runtime.getRuntime().availableProcessors()));
    }

    private static double percent(long part, long whole) {
        return whole == 0 ? 0 : Math.round(1000.0 * part / whole) / 10.0;
    }
}
