package dev.quicfleet.metrics;

/**
 * Every meter name and tag key quicfleet publishes, in one place.
 *
 * <p>Names are Micrometer dot names under the prefix {@value #PREFIX}. The Prometheus registry turns the dots into
 * underscores and appends what the type and base unit imply: {@code _total} for counters, {@code _seconds} for
 * timers, {@code _bytes} for meters whose base unit is bytes. So no name here ends in {@code total} or a unit; the
 * Prometheus name is given next to each constant.
 *
 * <p>Every tag has a small fixed set of values: {@link #WORKER} is the slot number (never a pid), and the others come
 * from the enums {@link HttpProtocol}, {@link EarlyDataOutcome} and {@link RestartReason} or from the value constants
 * below.
 */
public final class MeterNames {

    /** The prefix of every quicfleet meter. */
    public static final String PREFIX = "quicfleet";

    // Worker meters.

    /** Gauge of open QUIC connections: {@code quicfleet_quic_connections_active}. */
    public static final String QUIC_CONNECTIONS_ACTIVE = PREFIX + ".quic.connections.active";
    /** Counter of finished QUIC handshakes by {@link #RESULT} and {@link #RESUMED}: {@code quicfleet_quic_handshakes_total}. */
    public static final String QUIC_HANDSHAKES = PREFIX + ".quic.handshakes";
    /** Counter of 0-RTT requests by {@link #OUTCOME}: {@code quicfleet_quic_early_data_requests_total}. */
    public static final String QUIC_EARLY_DATA_REQUESTS = PREFIX + ".quic.early.data.requests";
    /** Counter of Retry packets sent: {@code quicfleet_quic_retry_sent_total}. */
    public static final String QUIC_RETRY_SENT = PREFIX + ".quic.retry.sent";
    /** Gauge of QUIC handshakes in progress: {@code quicfleet_quic_handshakes_in_progress}. */
    public static final String QUIC_HANDSHAKES_IN_PROGRESS = PREFIX + ".quic.handshakes.in.progress";
    /**
     * Counter of Version Negotiation packets for datagrams of a version quiche does not speak (QUIC v2 included), by
     * {@link #OUTCOME} ({@code sent}, {@code rate_limited}): {@code quicfleet_quic_version_negotiations_total}.
     */
    public static final String QUIC_VERSION_NEGOTIATIONS = PREFIX + ".quic.version.negotiations";

    /** Counter of stateless resets by {@link #OUTCOME}: {@code quicfleet_quic_stateless_resets_total}. */
    public static final String QUIC_STATELESS_RESETS = PREFIX + ".quic.stateless.resets";
    /**
     * Counter of short-header packets that reached a worker other than the one their connection ID names:
     * {@code quicfleet_quic_packets_misrouted_total}.
     */
    public static final String QUIC_PACKETS_MISROUTED = PREFIX + ".quic.packets.misrouted";

    /**
     * Counter of access log lines by {@link #OUTCOME}: {@code written} to the file, or {@code dropped} because the
     * writer fell behind (its queue was full) or the file could not be written: {@code quicfleet_access_log_lines_total}.
     */
    public static final String ACCESS_LOG_LINES = PREFIX + ".access.log.lines";

    /**
     * Counter of response body bytes that went through compression, by {@code coding} (zstd, br, gzip) and
     * {@code side}: {@code uncompressed} (what the service wrote) and {@code compressed} (what was sent):
     * {@code quicfleet_http_compression_bytes_total}.
     */
    public static final String HTTP_COMPRESSION_BYTES = PREFIX + ".http.compression.bytes";
    /**
     * Counter of QUIC handshakes that failed, by {@link #REASON} ({@code timeout}: not completed within
     * {@code --handshake-timeout}; {@code closed}: closed by either side before completing):
     * {@code quicfleet_quic_handshake_failures_total}.
     */
    public static final String QUIC_HANDSHAKE_FAILURES = PREFIX + ".quic.handshake.failures";
    /**
     * Counter of UDP datagrams a worker dropped, by {@link #REASON} ({@code malformed}: the QUIC codec could not
     * parse it; {@code draining}: a new connection's Initial while the worker drains; {@code amplification}: an
     * outgoing datagram beyond 3x the bytes received from a not yet validated address):
     * {@code quicfleet_quic_datagrams_dropped_total}.
     */
    public static final String QUIC_DATAGRAMS_DROPPED = PREFIX + ".quic.datagrams.dropped";
    /** Counter of QUIC packets sent: {@code quicfleet_quic_packets_sent_total}. */
    public static final String QUIC_PACKETS_SENT = PREFIX + ".quic.packets.sent";
    /** Counter of QUIC packets declared lost: {@code quicfleet_quic_packets_lost_total}. */
    public static final String QUIC_PACKETS_LOST = PREFIX + ".quic.packets.lost";
    /** Counter of HTTP responses by {@link #PROTOCOL} and {@link #STATUS_CLASS}: {@code quicfleet_http_requests_total}. */
    public static final String HTTP_REQUESTS = PREFIX + ".http.requests";
    /** Timer (histogram) of request durations by {@link #PROTOCOL}: {@code quicfleet_http_request_duration_seconds}. */
    public static final String HTTP_REQUEST_DURATION = PREFIX + ".http.request.duration";
    /** Counter of response body bytes by {@link #PROTOCOL}: {@code quicfleet_http_response_body_bytes_total}. */
    public static final String HTTP_RESPONSE_BODY = PREFIX + ".http.response.body";
    /**
     * Counter of clients too slow for a limit, by {@link #PROTOCOL} and {@link #REASON} ({@link TimeoutReason}): the
     * HTTP/1.1 connection was closed, or the HTTP/2 or HTTP/3 stream reset: {@code quicfleet_http_timeouts_total}.
     */
    public static final String HTTP_TIMEOUTS = PREFIX + ".http.timeouts";
    /**
     * Counter of TCP connections that ended in an error the peer caused, by {@link #REASON}
     * ({@link TcpErrorReason}): {@code quicfleet_tcp_connection_errors_total}.
     */
    public static final String TCP_CONNECTION_ERRORS = PREFIX + ".tcp.connection.errors";

    // Reverse proxy meters (UpstreamMetrics), tagged with the POOL and, where one is known, the UPSTREAM.

    /**
     * Counter of upstream responses by {@link #POOL}, {@link #UPSTREAM} and {@link #STATUS_CLASS}:
     * {@code quicfleet_upstream_requests_total}.
     */
    public static final String UPSTREAM_REQUESTS = PREFIX + ".upstream.requests";
    /**
     * Timer (histogram) from sending the request head to the upstream's complete response, by {@link #POOL} and
     * {@link #UPSTREAM}: {@code quicfleet_upstream_request_duration_seconds}.
     */
    public static final String UPSTREAM_REQUEST_DURATION = PREFIX + ".upstream.request.duration";
    /** Gauge of open upstream connections (idle or busy) by {@link #POOL} and {@link #UPSTREAM}. */
    public static final String UPSTREAM_CONNECTIONS_ACTIVE = PREFIX + ".upstream.connections.active";
    /** Gauge, 1 while an upstream may be picked, 0 while it is ejected: {@code quicfleet_upstream_healthy}. */
    public static final String UPSTREAM_HEALTHY = PREFIX + ".upstream.healthy";
    /**
     * Counter of proxied exchanges that failed, by {@link #POOL} and {@link #REASON} ({@link UpstreamFailure}):
     * {@code quicfleet_upstream_failures_total}.
     */
    public static final String UPSTREAM_FAILURES = PREFIX + ".upstream.failures";
    /** Counter of retries by {@link #POOL} and {@link #REASON} ({@link UpstreamRetry}). */
    public static final String UPSTREAM_RETRIES = PREFIX + ".upstream.retries";
    /**
     * Counter of ejections by {@link #POOL}, {@link #UPSTREAM} and {@link #REASON} ({@link UpstreamEjection}):
     * {@code quicfleet_upstream_ejections_total}.
     */
    public static final String UPSTREAM_EJECTIONS = PREFIX + ".upstream.ejections";

    // Supervisor meters.

    /** Info gauge (always 1) carrying {@link #VERSION}: {@code quicfleet_build_info}. */
    public static final String BUILD_INFO = PREFIX + ".build.info";
    /** Gauge of workers currently running: {@code quicfleet_workers_running}. */
    public static final String WORKERS_RUNNING = PREFIX + ".workers.running";
    /** Counter of worker restarts by {@link #WORKER} and {@link #REASON}: {@code quicfleet_worker_restarts_total}. */
    public static final String WORKER_RESTARTS = PREFIX + ".worker.restarts";
    /** Counter of TLS ticket key rotations: {@code quicfleet_tls_ticket_key_rotations_total}. */
    public static final String TLS_TICKET_KEY_ROTATIONS = PREFIX + ".tls.ticket.key.rotations";
    /**
     * Gauge of the seconds since the ticket key that encrypts new tickets became current, as last published:
     * {@code quicfleet_tls_ticket_key_age_seconds}. Below the rotation period while rotation works; above it, rotation
     * has stopped.
     */
    public static final String TLS_TICKET_KEY_AGE = PREFIX + ".tls.ticket.key.age";
    /**
     * Counter of shared-map generations replaced because the file was damaged (or a lock wedged), by {@link #REASON}:
     * {@code quicfleet_shm_replaced_total}.
     */
    public static final String SHM_REPLACED = PREFIX + ".shm.replaced";
    /** Counter of failed worker scrapes by {@link #WORKER}: {@code quicfleet_scrape_errors_total}. */
    public static final String SCRAPE_ERRORS = PREFIX + ".scrape.errors";

    // Tag keys.

    /** The worker slot number as a decimal string ({@code "0"}, {@code "1"}, ...); never a pid. */
    public static final String WORKER = "worker";
    /** The worker's I/O transport ({@code io_uring}, {@code epoll}, {@code nio}). */
    public static final String TRANSPORT = "transport";
    /** A handshake's result: {@link #SUCCESS} or {@link #FAILURE}. */
    public static final String RESULT = "result";
    /** Whether a handshake resumed a TLS session: {@code "true"} or {@code "false"}. */
    public static final String RESUMED = "resumed";
    /** What happened to an early-data request: {@link EarlyDataOutcome#tagValue()}. */
    public static final String OUTCOME = "outcome";
    /** The HTTP version: {@link HttpProtocol#tagValue()}. */
    public static final String PROTOCOL = "protocol";
    /** The response status class: {@code 1xx} .. {@code 5xx}. */
    public static final String STATUS_CLASS = "status_class";
    /**
     * Why a worker was restarted ({@link RestartReason#tagValue()}), a client timed out
     * ({@link TimeoutReason#tagValue()}) or a TCP connection failed ({@link TcpErrorReason#tagValue()}).
     */
    public static final String REASON = "reason";
    /** A reverse proxy's pool name ({@code default} for the {@code --upstream} pool). */
    public static final String POOL = "pool";
    /** An upstream of a pool, as configured: {@code http://HOST:PORT}. Bounded: the configuration lists them. */
    public static final String UPSTREAM = "upstream";
    /** The quicfleet version on {@link #BUILD_INFO}. */
    public static final String VERSION = "version";

    // Tag values.

    /** {@link #RESULT} of a completed handshake. */
    public static final String SUCCESS = "success";
    /** {@link #RESULT} of a handshake that failed. */
    public static final String FAILURE = "failure";

    private MeterNames() {
    }
}
