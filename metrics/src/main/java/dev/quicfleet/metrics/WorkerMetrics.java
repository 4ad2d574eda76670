package dev.quicfleet.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The meters of one worker process, created once at worker start and recorded into from the request path.
 *
 * <p>Every series carries the common tags {@value MeterNames#WORKER} (the slot) and {@value MeterNames#TRANSPORT}.
 * Every meter, including one per tag combination ({@link HttpProtocol} × status class, {@link EarlyDataOutcome},
 * handshake result × resumed), is registered in the constructor and kept in a field or a small array, so a recording
 * method is an array index and an increment: no lookup, no allocation. All combinations are exported from the start
 * (with value 0), which keeps {@code rate()} and {@code increase()} correct for the first event of a kind.
 *
 * <p>The recording methods are thread-safe and never block. {@link #scrape(String)} renders the exposition the
 * supervisor pulls; the supervisor asks for the Prometheus text format ({@link WorkerScrapeFetcher#ACCEPT}).
 *
 * <pre>{@code
 * WorkerMetrics metrics = new WorkerMetrics(config.slot(), transport.name());
 * // per request, after the response is complete:
 * metrics.request(HttpProtocol.H3, 200, System.nanoTime() - start, bodyBytes);
 * // GET /metrics on the worker's loopback metrics listener:
 * Exposition exposition = metrics.scrape(request.header("accept"));
 * }</pre>
 */
public final class WorkerMetrics implements AutoCloseable {

    /**
     * Bucket bounds of {@value MeterNames#HTTP_REQUEST_DURATION}: fine up to 10 ms where an edge server answers
     * from memory, coarse up to the 30 s of a slow proxied upstream. None is below 1 ms, which the text format
     * would write as {@code le="5.0E-4"}, a label value nobody types in a query.
     */
    static final Duration[] DURATION_BUCKETS = {
            Duration.ofMillis(1), Duration.ofMillis(2), Duration.ofMillis(5),
            Duration.ofMillis(10), Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100),
            Duration.ofMillis(250), Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofMillis(2500),
            Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(30)};

    private static final String[] STATUS_CLASSES = {"1xx", "2xx", "3xx", "4xx", "5xx"};

    private final int slot;
    private final String transport;
    private final PrometheusMeterRegistry registry;
    private final JvmGcMetrics gcMetrics;

    private final AtomicLong connectionsActive = new AtomicLong();
    /** Indexed by {@code (success ? 0 : 2) + (resumed ? 1 : 0)}. */
    private final Counter[] handshakes = new Counter[4];
    /** Indexed by {@link EarlyDataOutcome#ordinal()}. */
    private final Counter[] earlyData;
    private final Counter retrySent;
    private final AtomicLong handshakesInProgress = new AtomicLong();
    private final Counter resetsSent;
    private final Counter versionNegotiationsSent;
    private final Counter versionNegotiationsRateLimited;
    private final Counter resetsRateLimited;
    private final Counter packetsMisrouted;
    private final Counter accessLogWritten;
    private final Map<String, Counter[]> compressionBytes = new ConcurrentHashMap<>();
    private final Counter accessLogDropped;
    private final Counter packetsSent;
    /** Indexed by {@link HandshakeFailure#ordinal()}. */
    private final Counter[] handshakeFailures;
    /** Indexed by {@link DroppedDatagram#ordinal()}. */
    private final Counter[] datagramsDropped;
    private final Counter packetsLost;
    /** Indexed by {@link HttpProtocol#ordinal()}, then by status / 100 - 1. */
    private final Counter[][] requests;
    /** Indexed by {@link HttpProtocol#ordinal()}. */
    private final Timer[] requestDurations;
    /** Indexed by {@link HttpProtocol#ordinal()}. */
    private final Counter[] responseBodyBytes;
    /** Indexed by {@link HttpProtocol#ordinal()}, then by {@link TimeoutReason#ordinal()}. */
    private final Counter[][] timeouts;
    /** Indexed by {@link TcpErrorReason#ordinal()}. */
    private final Counter[] tcpErrors;

    /**
     * Creates the registry with its common tags, the JVM and process meters and every worker meter.
     *
     * @param slot      the worker slot, {@code >= 0}; the {@value MeterNames#WORKER} tag
     * @param transport the I/O transport in use ({@code io_uring}, {@code epoll}, {@code nio}); the
     *                  {@value MeterNames#TRANSPORT} tag
     */
    public WorkerMetrics(int slot, String transport) {
        if (slot < 0) {
            throw new IllegalArgumentException("slot: " + slot + " (expected: >= 0)");
        }
        Objects.requireNonNull(transport, "transport");
        if (transport.isBlank()) {
            throw new IllegalArgumentException("transport: '" + transport + "' (expected: io_uring, epoll or nio)");
        }
        this.slot = slot;
        this.transport = transport;
        registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        // Common tags apply only to meters registered after this call, so it comes first.
        registry.config().commonTags(MeterNames.WORKER, Integer.toString(slot), MeterNames.TRANSPORT, transport);
        gcMetrics = JvmBinders.bindTo(registry);

        Gauge.builder(MeterNames.QUIC_CONNECTIONS_ACTIVE, connectionsActive, AtomicLong::get)
                .description("QUIC connections currently open")
                .strongReference(true)
                .register(registry);
        for (boolean success : new boolean[] {true, false}) {
            for (boolean resumed : new boolean[] {false, true}) {
                handshakes[handshakeIndex(success, resumed)] = Counter.builder(MeterNames.QUIC_HANDSHAKES)
                        .description("QUIC handshakes finished, by result and by whether a TLS session was resumed")
                        .tag(MeterNames.RESULT, success ? MeterNames.SUCCESS : MeterNames.FAILURE)
                        .tag(MeterNames.RESUMED, Boolean.toString(resumed))
                        .register(registry);
            }
        }
        EarlyDataOutcome[] outcomes = EarlyDataOutcome.values();
        earlyData = new Counter[outcomes.length];
        for (EarlyDataOutcome outcome : outcomes) {
            earlyData[outcome.ordinal()] = Counter.builder(MeterNames.QUIC_EARLY_DATA_REQUESTS)
                    .description("Requests that arrived in 0-RTT early data, by what was done with them")
                    .tag(MeterNames.OUTCOME, outcome.tagValue())
                    .register(registry);
        }
        retrySent = Counter.builder(MeterNames.QUIC_RETRY_SENT)
                .description("QUIC Retry packets sent (address validation)")
                .register(registry);
        Gauge.builder(MeterNames.QUIC_HANDSHAKES_IN_PROGRESS, handshakesInProgress, AtomicLong::get)
                .description("QUIC handshakes begun and not yet finished (what --retry auto compares with its "
                        + "threshold)")
                .strongReference(true)
                .register(registry);
        resetsSent = Counter.builder(MeterNames.QUIC_STATELESS_RESETS)
                .description("Stateless resets for packets of connections this worker does not know, by outcome")
                .tag(MeterNames.OUTCOME, "sent")
                .register(registry);
        resetsRateLimited = Counter.builder(MeterNames.QUIC_STATELESS_RESETS)
                .description("Stateless resets for packets of connections this worker does not know, by outcome")
                .tag(MeterNames.OUTCOME, "rate_limited")
                .register(registry);
        versionNegotiationsSent = Counter.builder(MeterNames.QUIC_VERSION_NEGOTIATIONS)
                .description("Version Negotiation packets for datagrams of a QUIC version this worker does not speak, "
                        + "by outcome")
                .tag(MeterNames.OUTCOME, "sent")
                .register(registry);
        versionNegotiationsRateLimited = Counter.builder(MeterNames.QUIC_VERSION_NEGOTIATIONS)
                .description("Version Negotiation packets for datagrams of a QUIC version this worker does not speak, "
                        + "by outcome")
                .tag(MeterNames.OUTCOME, "rate_limited")
                .register(registry);
        packetsMisrouted = Counter.builder(MeterNames.QUIC_PACKETS_MISROUTED)
                .description("Short-header packets whose connection id names another worker's slot (steering off "
                        + "or not working)")
                .register(registry);
        accessLogWritten = Counter.builder(MeterNames.ACCESS_LOG_LINES)
                .description("Access log lines, by outcome: written, or dropped (the writer fell behind or the file "
                        + "could not be written)")
                .tag(MeterNames.OUTCOME, "written")
                .register(registry);
        accessLogDropped = Counter.builder(MeterNames.ACCESS_LOG_LINES)
                .description("Access log lines, by outcome: written, or dropped (the writer fell behind or the file "
                        + "could not be written)")
                .tag(MeterNames.OUTCOME, "dropped")
                .register(registry);
        HandshakeFailure[] failures = HandshakeFailure.values();
        handshakeFailures = new Counter[failures.length];
        for (HandshakeFailure failure : failures) {
            handshakeFailures[failure.ordinal()] = Counter.builder(MeterNames.QUIC_HANDSHAKE_FAILURES)
                    .description("QUIC handshakes that failed, by reason (timeout: not completed within "
                            + "--handshake-timeout; closed: closed before completing)")
                    .tag(MeterNames.REASON, failure.tagValue())
                    .register(registry);
        }
        DroppedDatagram[] drops = DroppedDatagram.values();
        datagramsDropped = new Counter[drops.length];
        for (DroppedDatagram drop : drops) {
            datagramsDropped[drop.ordinal()] = Counter.builder(MeterNames.QUIC_DATAGRAMS_DROPPED)
                    .description("UDP datagrams dropped by a worker, by reason (malformed, draining: a new "
                            + "connection while draining, amplification: beyond 3x what an unvalidated address sent)")
                    .tag(MeterNames.REASON, drop.tagValue())
                    .register(registry);
        }
        packetsSent = Counter.builder(MeterNames.QUIC_PACKETS_SENT)
                .description("QUIC packets sent, from connection statistics")
                .register(registry);
        packetsLost = Counter.builder(MeterNames.QUIC_PACKETS_LOST)
                .description("QUIC packets declared lost, from connection statistics")
                .register(registry);

        HttpProtocol[] protocols = HttpProtocol.values();
        requests = new Counter[protocols.length][STATUS_CLASSES.length];
        requestDurations = new Timer[protocols.length];
        responseBodyBytes = new Counter[protocols.length];
        for (HttpProtocol protocol : protocols) {
            int p = protocol.ordinal();
            for (int c = 0; c < STATUS_CLASSES.length; c++) {
                requests[p][c] = Counter.builder(MeterNames.HTTP_REQUESTS)
                        .description("HTTP requests answered, by protocol and response status class")
                        .tag(MeterNames.PROTOCOL, protocol.tagValue())
                        .tag(MeterNames.STATUS_CLASS, STATUS_CLASSES[c])
                        .register(registry);
            }
            requestDurations[p] = Timer.builder(MeterNames.HTTP_REQUEST_DURATION)
                    .description("Time from request headers received to response complete, by protocol")
                    .tag(MeterNames.PROTOCOL, protocol.tagValue())
                    .serviceLevelObjectives(DURATION_BUCKETS)
                    .register(registry);
            responseBodyBytes[p] = Counter.builder(MeterNames.HTTP_RESPONSE_BODY)
                    .description("HTTP response body bytes sent, by protocol")
                    .baseUnit("bytes")
                    .tag(MeterNames.PROTOCOL, protocol.tagValue())
                    .register(registry);
        }
        TimeoutReason[] timeoutReasons = TimeoutReason.values();
        timeouts = new Counter[protocols.length][timeoutReasons.length];
        for (HttpProtocol protocol : protocols) {
            for (TimeoutReason reason : timeoutReasons) {
                timeouts[protocol.ordinal()][reason.ordinal()] = Counter.builder(MeterNames.HTTP_TIMEOUTS)
                        .description("Clients too slow for a limit (HTTP/1.1 connection closed, HTTP/2 or HTTP/3 "
                                + "stream reset), by protocol and by which limit")
                        .tag(MeterNames.PROTOCOL, protocol.tagValue())
                        .tag(MeterNames.REASON, reason.tagValue())
                        .register(registry);
            }
        }
        TcpErrorReason[] errorReasons = TcpErrorReason.values();
        tcpErrors = new Counter[errorReasons.length];
        for (TcpErrorReason reason : errorReasons) {
            tcpErrors[reason.ordinal()] = Counter.builder(MeterNames.TCP_CONNECTION_ERRORS)
                    .description("TCP connections that ended in an error the peer caused (reset, broken pipe, "
                            + "failed TLS handshake), each counted once")
                    .tag(MeterNames.REASON, reason.tagValue())
                    .register(registry);
        }
    }

    private static int handshakeIndex(boolean success, boolean resumed) {
        return (success ? 0 : 2) + (resumed ? 1 : 0);
    }

    /** The worker slot this registry tags its series with. */
    public int slot() {
        return slot;
    }

    /** The transport this registry tags its series with. */
    public String transport() {
        return transport;
    }

    /**
     * The underlying registry, for meters other modules bind at start-up (for example function counters over the
     * ticket cache's statistics). They get the common tags too. Give each a description: {@code promtool check
     * metrics} rejects a family without help text. Not for the request path.
     */
    public MeterRegistry registry() {
        return registry;
    }

    /** A QUIC connection was accepted (call once per connection). */
    public void connectionOpened() {
        connectionsActive.incrementAndGet();
    }

    /** A QUIC connection counted by {@link #connectionOpened()} closed (call once per connection). */
    public void connectionClosed() {
        connectionsActive.decrementAndGet();
    }

    /**
     * A QUIC handshake finished.
     *
     * @param success whether it completed (as opposed to failing or timing out)
     * @param resumed whether the client resumed a TLS session (ticket accepted)
     */
    public void handshake(boolean success, boolean resumed) {
        handshakes[handshakeIndex(success, resumed)].increment();
    }

    /** A request arrived in 0-RTT early data and was handled as {@code outcome}. */
    public void earlyData(EarlyDataOutcome outcome) {
        earlyData[outcome.ordinal()].increment();
    }

    /** A Retry packet was sent to validate a client's address. */
    public void retrySent() {
        retrySent.increment();
    }

    /** A QUIC handshake began ({@code +1}) or finished, failed or was abandoned ({@code -1}). */
    public void handshakesInProgress(int delta) {
        handshakesInProgress.addAndGet(delta);
    }

    /** QUIC handshakes begun and not yet finished. */
    public long handshakesInProgress() {
        return handshakesInProgress.get();
    }

    /**
     * A QUIC handshake failed for {@code reason} (also count it with {@link #handshake(boolean, boolean)} as a
     * failure).
     */
    public void handshakeFailed(HandshakeFailure reason) {
        handshakeFailures[reason.ordinal()].increment();
    }

    /** A UDP datagram was dropped for {@code reason}. */
    public void datagramDropped(DroppedDatagram reason) {
        datagramsDropped[reason.ordinal()].increment();
    }

    /**
     * A compressed response: {@code uncompressed} body bytes went in, {@code compressed} went out, with
     * {@code coding}.
     */
    public void compressed(String coding, long uncompressed, long compressed) {
        Counter[] counters = compressionBytes.computeIfAbsent(coding, c -> new Counter[] {
                Counter.builder(MeterNames.HTTP_COMPRESSION_BYTES)
                        .description("Response body bytes through compression, by coding and side")
                        .tag("coding", c).tag("side", "uncompressed").register(registry),
                Counter.builder(MeterNames.HTTP_COMPRESSION_BYTES)
                        .description("Response body bytes through compression, by coding and side")
                        .tag("coding", c).tag("side", "compressed").register(registry)});
        counters[0].increment(uncompressed);
        counters[1].increment(compressed);
    }

    /** Access log lines written to the file. */
    public void accessLogWritten(long lines) {
        accessLogWritten.increment(lines);
    }

    /** Access log lines dropped: the writer's queue was full, or the file could not be written. */
    public void accessLogDropped(long lines) {
        accessLogDropped.increment(lines);
    }

    /** A stateless reset was sent ({@code true}) or withheld by the rate limit. */
    public void statelessReset(boolean sent) {
        (sent ? resetsSent : resetsRateLimited).increment();
    }

    /** A Version Negotiation packet was sent ({@code true}) or withheld by the rate limit. */
    public void versionNegotiation(boolean sent) {
        (sent ? versionNegotiationsSent : versionNegotiationsRateLimited).increment();
    }

    /** A short-header packet arrived for a connection id of another worker's slot. */
    public void packetMisrouted() {
        packetsMisrouted.increment();
    }

    /**
     * Adds packet counts taken from QUIC connection statistics since the last call for the same connection (for
     * example at connection close). Values {@code <= 0} add nothing.
     *
     * @param sentDelta packets sent
     * @param lostDelta packets declared lost
     */
    public void packets(long sentDelta, long lostDelta) {
        if (sentDelta > 0) {
            packetsSent.increment(sentDelta);
        }
        if (lostDelta > 0) {
            packetsLost.increment(lostDelta);
        }
    }

    /**
     * An HTTP request was answered.
     *
     * @param protocol          the HTTP version it arrived on
     * @param status            the final response status, 100..599
     * @param durationNanos     from request headers received to response complete; negative values are not recorded
     * @param responseBodyBytes the response body bytes sent; values {@code <= 0} add nothing
     * @throws IllegalArgumentException if {@code status} is not a valid HTTP status (RFC 9110 section 15)
     */
    public void request(HttpProtocol protocol, int status, long durationNanos, long responseBodyBytes) {
        if (status < 100 || status > 599) {
            throw new IllegalArgumentException("status: " + status + " (expected: 100..599)");
        }
        int p = protocol.ordinal();
        requests[p][status / 100 - 1].increment();
        if (durationNanos >= 0) { // Micrometer would drop it too, but with a WARN log line
            requestDurations[p].record(durationNanos, TimeUnit.NANOSECONDS);
        }
        if (responseBodyBytes > 0) {
            this.responseBodyBytes[p].increment(responseBodyBytes);
        }
    }

    /**
     * A client was too slow for a limit: its HTTP/1.1 connection was closed, or its HTTP/2 or HTTP/3 stream reset.
     *
     * @param protocol the HTTP version of the connection or stream
     * @param reason   which limit
     */
    public void timeout(HttpProtocol protocol, TimeoutReason reason) {
        timeouts[protocol.ordinal()][reason.ordinal()].increment();
    }

    /** The count of {@link #timeout(HttpProtocol, TimeoutReason)} for one protocol and reason (for tests and logs). */
    public long timeouts(HttpProtocol protocol, TimeoutReason reason) {
        return (long) timeouts[protocol.ordinal()][reason.ordinal()].count();
    }

    /** A TCP connection ended in an error its peer caused (call once per connection). */
    public void tcpError(TcpErrorReason reason) {
        tcpErrors[reason.ordinal()].increment();
    }

    /** The count of {@link #tcpError(TcpErrorReason)} for one reason (for tests and logs). */
    public long tcpErrors(TcpErrorReason reason) {
        return (long) tcpErrors[reason.ordinal()].count();
    }

    /**
     * Renders every series of this worker.
     *
     * @param acceptHeader the scraper's {@code Accept} header, or {@code null}
     * @return OpenMetrics if {@code acceptHeader} asks for it, otherwise the Prometheus text format
     */
    public Exposition scrape(String acceptHeader) {
        return Exposition.render(registry.getPrometheusRegistry().scrape(), acceptHeader);
    }

    /** Stops listening to GC notifications and closes the registry. */
    @Override
    public void close() {
        gcMetrics.close();
        registry.close();
    }
}
