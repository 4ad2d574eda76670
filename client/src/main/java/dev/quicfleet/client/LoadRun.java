package dev.quicfleet.client;

import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Queue;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;

/**
 * One h3load run. Requests chain on the event loops (a response's completion sends the next request), so the
 * generator needs no thread per request: {@code connections × streams} "lanes" each keep one request in flight.
 * A hold run ({@code --hold}) instead opens every connection, makes one request on each and keeps them all open.
 */
final class LoadRun {

    /** Handshakes in flight at a time while a hold run opens its connections. */
    static final int HOLD_OPENING_WINDOW = 64;

    /**
     * What to run. {@code requests} is -1 when {@code duration} or {@code hold} bounds the run instead; {@code hold}
     * is null except for a hold run, {@code keepAlive} null when a hold run sends no keep-alives.
     */
    record Settings(H3Request request, InetSocketAddress address, int connections, int streams, long requests,
                    Duration duration, boolean newConnectionPerRequest, boolean resume, boolean earlyData,
                    Duration hold, Duration keepAlive) {
    }

    private final H3Client client;
    private final Settings settings;
    private final PrintStream progress;
    private final PrintStream notices;

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
    private final LongAdder retried = new LongAdder();
    private final LongAdder goAways = new LongAdder();
    private final AtomicInteger open = new AtomicInteger();
    private final Map<String, LongAdder> errors = new ConcurrentHashMap<>();
    private final Map<String, String> firstErrors = new ConcurrentHashMap<>();
    private final Map<Integer, LongAdder> statuses = new ConcurrentHashMap<>();
    private final Histogram latency = new ConcurrentHistogram(TimeUnit.MINUTES.toMicros(10), 3);
    private final Histogram handshakeLatency = new ConcurrentHistogram(TimeUnit.MINUTES.toMicros(10), 3);
    private CountDownLatch lanes;

    /** {@code progress} gets a line a second (null: none); {@code notices} the "holding:" line of a hold run. */
    LoadRun(H3Client client, Settings settings, PrintStream progress, PrintStream notices) {
        this.client = client;
        this.settings = settings;
        this.progress = progress;
        this.notices = notices;
    }

    LoadReport run() throws InterruptedException {
        String primed = null;
        if (settings.resume()) {
            primed = prime();
        }
        if (settings.hold() != null) {
            return hold(primed);
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
        LoadReport.Packets packets = settings.newConnectionPerRequest() ? null : packets(slots);
        for (Slot slot : slots) {
            slot.close();
        }
        return report(wall, cpu, wall, finished, primed, packets, null);
    }

    /**
     * Opens {@code connections} connections, {@link #HOLD_OPENING_WINDOW} handshakes at a time, sends one request on
     * each, and once every request has its answer says so on {@code err} ("holding: N connections open ...") and
     * keeps the connections open and idle for the hold time. Every {@code keepAlive}, from the start, each answered
     * connection sends a keep-alive.
     * Rates in the report are over the opening phase, the CPU share over the whole run; a connection that closes
     * during the hold counts as lost.
     */
    private LoadReport hold(String primed) throws InterruptedException {
        var os = ManagementFactory.getOperatingSystemMXBean();
        long cpu0 = processCpuNanos(os);
        long t0 = System.nanoTime();
        int total = settings.connections();
        AtomicInteger toOpen = new AtomicInteger(total);
        CountDownLatch answered = new CountDownLatch(total);
        Queue<H3Connection> held = new ConcurrentLinkedQueue<>();
        Thread ticker = progress == null ? null : Thread.ofPlatform().daemon().name("h3load-progress")
                .start(() -> tick(t0));
        Duration keepAlive = settings.keepAlive();
        // From the start: opening thousands of connections can take longer than an idle timeout.
        Thread pinger = keepAlive == null ? null : Thread.ofPlatform().daemon().name("h3load-keep-alive")
                .start(() -> {
                    try {
                        while (true) {
                            TimeUnit.NANOSECONDS.sleep(keepAlive.toNanos());
                            held.forEach(H3Connection::keepAlive);
                        }
                    } catch (InterruptedException e) {
                        // the hold is over
                    }
                });
        for (int i = 0; i < Math.min(HOLD_OPENING_WINDOW, total); i++) {
            openAndHold(toOpen, answered, held);
        }
        // Bounded by the connect and request timeouts of each connection.
        answered.await();
        long openNanos = System.nanoTime() - t0;
        if (ticker != null) {
            ticker.interrupt();
        }
        AtomicBoolean releasing = new AtomicBoolean();
        AtomicInteger lost = new AtomicInteger();
        Map<String, LongAdder> lostWhy = new ConcurrentHashMap<>();
        for (H3Connection c : held) {
            c.closeFuture().whenComplete((v, e) -> {
                if (!releasing.get()) {
                    lost.incrementAndGet();
                    // on the connection's event loop, where its close cause was set
                    H3Exception why = c.closeCause();
                    String key = why == null ? "closed" : why.getMessage();
                    if (lostWhy.size() < 10 || lostWhy.containsKey(key)) {
                        lostWhy.computeIfAbsent(key, k -> new LongAdder()).increment();
                    }
                }
            });
        }
        notices.printf(Locale.ROOT, "holding: %d connections open (%d of %d requests answered, %d failed) after %.1fs; "
                        + "holding for %s, keep-alive %s%n", held.size(), responses.sum(), total, failed.sum(),
                openNanos / 1e9, H3Client.format(settings.hold()),
                keepAlive == null ? "off" : "every " + H3Client.format(keepAlive));
        notices.flush();
        TimeUnit.NANOSECONDS.sleep(settings.hold().toNanos());
        if (pinger != null) {
            pinger.interrupt();
        }
        releasing.set(true);
        int lostCount = lost.get();
        Map<String, Long> lostReasons = new TreeMap<>();
        lostWhy.forEach((k, v) -> lostReasons.put(k, v.sum()));
        CompletableFuture<?>[] closing = held.stream().map(H3Connection::closeAsync).toArray(CompletableFuture[]::new);
        try {
            CompletableFuture.allOf(closing).get(10, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            // closing is best effort
        }
        long cpu = processCpuNanos(os) - cpu0;
        return report(openNanos, cpu, System.nanoTime() - t0, true, primed, null, new LoadReport.Hold(held.size(),
                Math.round(openNanos / 1e6) / 1000.0, settings.hold().toMillis() / 1000.0,
                keepAlive == null ? 0 : keepAlive.toMillis() / 1000.0, lostCount, lostReasons));
    }

    /** One lane of the opening phase: a new connection, one request, and on its answer the lane's next connection. */
    private void openAndHold(AtomicInteger toOpen, CountDownLatch answered, Queue<H3Connection> held) {
        if (toOpen.getAndDecrement() <= 0) {
            return;
        }
        long t = System.nanoTime();
        started.increment();
        H3Connection c = openConnection();
        c.send(settings.request(), BodyHandler.discarding()).whenComplete((r, e) -> {
            record(r, e, t);
            if (e == null) {
                held.add(c);
            } else {
                c.closeAsync();
            }
            answered.countDown();
            openAndHold(toOpen, answered, held);
        });
        c.start();
    }


    /** One connection (reopened after it fails) shared by {@code streams} lanes. */
    private final class Slot {
        private H3Connection connection;

        synchronized H3Connection connection() {
            if (connection == null || !connection.isOpen()) {
                connection = openConnection();
                connection.start();
            }
            return connection;
        }

        /** The open connection's counters, or null (none open, or no answer within a second). */
        synchronized ConnectionStats stats() {
            if (connection == null || !connection.isOpen()) {
                return null;
            }
            try {
                return connection.stats().get(1, TimeUnit.SECONDS);
            } catch (Exception e) {
                return null;
            }
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

    /** A new connection, counted; the caller {@link H3Connection#start() starts} it, after queueing its request. */
    private H3Connection openConnection() {
        long t = System.nanoTime();
        H3Connection c = client.prepare(settings.address(), settings.request().uri().getHost(),
                settings.request().port());
        open.incrementAndGet();
        c.closeFuture().whenComplete((v, e) -> open.decrementAndGet());
        c.goAway().thenRun(goAways::increment);
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
        started.increment();
        send(slot, System.nanoTime(), H3Client.GOAWAY_RETRIES);
    }

    /**
     * Sends the lane's request on the slot's connection; a GOAWAY makes the slot open a new connection (the old one
     * stops taking requests), and a request the GOAWAY refused is sent again there, not counted as failed.
     */
    private void send(Slot slot, long t, int retries) {
        H3Connection c = slot.connection();
        c.send(settings.request(), BodyHandler.discarding()).whenComplete((r, e) -> {
            if (retries > 0 && refusedByGoAway(e)) {
                retried.increment();
                send(slot, t, retries - 1);
                return;
            }
            record(r, e, t);
            next(slot);
        });
    }

    private void nextOnNewConnection() {
        if (!take()) {
            lanes.countDown();
            return;
        }
        started.increment();
        sendOnNewConnection(System.nanoTime(), H3Client.GOAWAY_RETRIES);
    }

    private void sendOnNewConnection(long t, int retries) {
        H3Connection c = openConnection();
        // Queued before the handshake starts, so it goes out as 0-RTT when the ticket allows (see prepare).
        c.send(settings.request(), BodyHandler.discarding()).whenComplete((r, e) -> {
            boolean again = retries > 0 && refusedByGoAway(e);
            if (again) {
                retried.increment();
            } else {
                record(r, e, t);
            }
            // The next connection starts once this one is closed (its CONNECTION_CLOSE sent, its ticket stored).
            c.closeAsync().whenComplete((v, x) -> {
                if (again) {
                    sendOnNewConnection(t, retries - 1);
                } else {
                    nextOnNewConnection();
                }
            });
        });
        c.start();
    }

    private static boolean refusedByGoAway(Throwable failure) {
        Throwable cause = failure instanceof CompletionException && failure.getCause() != null
                ? failure.getCause() : failure;
        return cause instanceof H3GoAwayException;
    }

    private void record(H3Response<Long> response, Throwable failure, long startNanos) {
        if (failure == null) {
            latency.recordValue(Math.max(1, (System.nanoTime() - startNanos) / 1000));
            responses.increment();
            bytes.add(response.body());
            statuses.computeIfAbsent(response.status(), k -> new LongAdder()).increment();
        } else {
            Throwable cause = failure instanceof CompletionException && failure.getCause() != null
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

    /** {@code wallNanos} is what rates are over, {@code cpuWallNanos} what the CPU share is over. */
    /** The packet counters of the slots' connections that are still open. */
    private static LoadReport.Packets packets(Slot[] slots) {
        int n = 0;
        long received = 0;
        long bytes = 0;
        long sent = 0;
        long lost = 0;
        for (Slot slot : slots) {
            ConnectionStats s = slot.stats();
            if (s != null) {
                n++;
                received += s.packetsReceived();
                bytes += s.bytesReceived();
                sent += s.packetsSent();
                lost += s.packetsLost();
            }
        }
        return n == 0 ? null : new LoadReport.Packets(n, received, bytes,
                received == 0 ? 0 : Math.round(10.0 * bytes / received) / 10.0, sent, lost);
    }

    private LoadReport report(long wallNanos, long cpuNanos, long cpuWallNanos, boolean finished, String primed,
                              LoadReport.Packets packets, LoadReport.Hold hold) {
        double secs = wallNanos / 1e9;
        Map<String, Long> errs = new TreeMap<>();
        errors.forEach((k, v) -> errs.put(k, v.sum()));
        Map<String, Long> codes = new TreeMap<>();
        statuses.forEach((k, v) -> codes.put(Integer.toString(k), v.sum()));
        long hs = handshakes.sum();
        return new LoadReport(settings.request().uri().toString(), settings.connections(), settings.streams(),
                settings.newConnectionPerRequest(), settings.resume(), settings.earlyData(), primed,
                Math.round(secs * 1000) / 1000.0, finished,
                new LoadReport.Requests(started.sum(), responses.sum(), failed.sum(), retried.sum(),
                        responses.sum() / secs, bytes.sum()), goAways.sum(),
                new LoadReport.Handshakes(hs, hs / secs, resumed.sum(), percent(resumed.sum(), hs), earlySent.sum(),
                        earlyAccepted.sum(), percent(earlyAccepted.sum(), hs)),
                LoadReport.Latency.of(latency), LoadReport.Latency.of(handshakeLatency), codes, errs,
                new TreeMap<>(firstErrors),
                new LoadReport.Cpu(Math.round(cpuNanos / 1e6) / 1000.0, percent(cpuNanos, cpuWallNanos),
                        Runtime.getRuntime().availableProcessors()), packets, hold);
    }

    private static double percent(long part, long whole) {
        return whole == 0 ? 0 : Math.round(1000.0 * part / whole) / 10.0;
    }
}
