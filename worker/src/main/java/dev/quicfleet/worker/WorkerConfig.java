package dev.quicfleet.worker;

import dev.quicfleet.proxy.ProxyConfig;
import dev.quicfleet.proxy.TrustedNetworks;
import dev.quicfleet.transport.ConfigValues;
import dev.quicfleet.transport.ConnectionIds;
import dev.quicfleet.transport.QuicLimits;
import dev.quicfleet.transport.RetryTokens;
import dev.quicfleet.transport.Transport;
import dev.quicfleet.worker.compression.CompressionConfig;
import dev.quicfleet.worker.log.AccessLogFormat;
import dev.quicfleet.worker.protocol.quic.EarlyDataPolicy;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * Everything one worker process needs to serve. Immutable and validated on construction: an invalid value fails with
 * a message naming the key (as on the command line and in the config file), the value and what is expected.
 *
 * @param address      the address to listen on (UDP and TCP); {@code 0.0.0.0} by default
 * @param port         the UDP and TCP port (the same number); {@code 0} picks a free one (tests); default 4433
 * @param cert         PEM certificate chain, or {@code null} for the generated development certificate
 * @param key          PEM private key for {@code cert}
 * @param stateDir     where the development certificate is kept
 * @param transport    {@code auto} (io_uring, then epoll, then NIO) or a transport name
 * @param ioThreads    event loop threads (the design runs one worker per core, so 1 by default)
 * @param slot         the worker slot number (0 for a lone worker; the supervisor assigns 0..N-1)
 * @param reusePort    bind with {@code SO_REUSEPORT} (several processes on one port); off for a lone worker so a
 *                     second copy on the same port fails loudly instead of silently sharing the traffic
 * @param udpFd        adopt this already bound UDP socket instead of binding ({@code -1}: bind)
 * @param tcpFd        adopt this already listening TCP socket instead of binding ({@code -1}: bind)
 * @param drainTimeout how long in-flight requests may finish after SIGTERM; default 10s
 * @param idleTimeout  idle connections are closed after this (QUIC idle timeout and TCP keep-alive); default 30s
 * @param bodyTimeout  a handler waiting this long for request body bytes or for the client to read the response
 *                     fails; default 60s
 * @param quic         QUIC transport limits (streams, windows, payload size, GSO, socket buffers)
 * @param staticDir    a directory served as static files under {@code staticPrefix}, or {@code null}
 * @param staticPrefix the URL path prefix of {@code staticDir}; default {@code /static}
 * @param earlyData    what runs in TLS 1.3 early data (0-RTT); default {@link EarlyDataPolicy#SAFE}
 * @param serverId     this host's server id in connection ids ({@code 0x}-hex or decimal, 0..4 bytes; empty: none),
 *                     see docs/CONNECTION-IDS.md
 * @param headerTimeout an HTTP/1.1 request head (request line and header fields) must arrive within this, counted
 *                     from the end of the TLS handshake for a connection's first request and from the first byte for
 *                     later ones; default {@link #DEFAULT_HEADER_TIMEOUT}
 * @param bodyMinRate  a request body on HTTP/1.1 or HTTP/2 must arrive at least this fast on average (bytes per
 *                     second, counted while the server reads, after a grace of {@code bodyTimeout}); 0 turns the
 *                     check off; default {@link #DEFAULT_BODY_MIN_RATE}
 * @param proxy        the upstreams every host and path is proxied to (static files still win on their prefix), or
 *                     {@code null} to serve the demo site
 * @param accessLog    the access log file ({@code {slot}} in it: one file per worker), or {@code null} for none
 * @param accessLogFormat the access log's format; default {@link AccessLogFormat#COMBINED}
 * @param compression  how responses are compressed; default {@link CompressionConfig#DEFAULT} (on)
 * @param proxyProtocolFrom TCP peers (L4 balancers) whose connections must start with a PROXY protocol v1/v2 header;
 *                     default none (a PROXY header from anyone is refused)
 * @param webSocket    whether WebSocket handshakes are served: the HTTP/1.1 {@code Upgrade: websocket}, and extended
 *                     CONNECT advertised in HTTP/2 and HTTP/3 SETTINGS (RFC 8441, RFC 9220); default on
 */
public record WorkerConfig(InetAddress address, int port, Path cert, Path key, Path stateDir, String transport,
                           int ioThreads, int slot, boolean reusePort, int udpFd, int tcpFd, Duration drainTimeout,
                           Duration idleTimeout, Duration bodyTimeout, QuicLimits quic, Path staticDir,
                           String staticPrefix, EarlyDataPolicy earlyData, String serverId,
                           RetryTokens.Mode retry, int retryThreshold, boolean statelessReset,
                           Duration resetHoldoff, Duration headerTimeout, long bodyMinRate, ProxyConfig proxy,
                           String accessLog, AccessLogFormat accessLogFormat, CompressionConfig compression,
                           TrustedNetworks proxyProtocolFrom, boolean webSocket) {

    /**
     * The default header timeout. A real client sends its whole request head in one write right after the handshake,
     * so even on a 2 s round trip it is complete well within this; nginx's {@code client_header_timeout} (60 s)
     * lets every slowloris connection live six times longer, for no client that needs it.
     */
    public static final Duration DEFAULT_HEADER_TIMEOUT = Duration.ofSeconds(10);

    /**
     * The default minimum request body rate in bytes per second: ASP.NET Kestrel's {@code MinRequestBodyDataRate}
     * (240 B/s). Any real upload is far faster; a body trickled at 1 byte per second is not.
     */
    public static final long DEFAULT_BODY_MIN_RATE = 240;

    /**
     * Handshakes in progress on one worker above which {@code --retry auto} validates addresses: far above what
     * real clients keep in flight on one core (about handshakes per second times the round trip), reached quickly by
     * a flood of Initials from spoofed addresses, each of which holds state until the handshake times out.
     */
    public static final int DEFAULT_RETRY_THRESHOLD = 1000;

    /** The default port, for UDP and TCP. */
    public static final int DEFAULT_PORT = 4433;

    /** Validates every field. */
    public WorkerConfig {
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(stateDir, "state-dir");
        Objects.requireNonNull(quic, "quic");
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port: " + port + " (expected: 1..65535, or 0 for a free port)");
        }
        if ((cert == null) != (key == null)) {
            throw new IllegalArgumentException(cert == null
                    ? "cert: missing while key is set to " + key + " (expected: both --cert and --key, or neither "
                      + "for the development certificate)"
                    : "key: missing while cert is set to " + cert + " (expected: both --cert and --key, or neither "
                      + "for the development certificate)");
        }
        transport = transport == null ? "auto" : transport;
        if (!transport.equals("auto")) {
            Transport.parse(transport);
        }
        if (ioThreads < 1 || ioThreads > 256) {
            throw new IllegalArgumentException("io-threads: " + ioThreads + " (expected: 1..256)");
        }
        if (slot < 0 || slot > 255) {
            throw new IllegalArgumentException("slot: " + slot + " (expected: 0..255)");
        }
        if (udpFd < -1 || tcpFd < -1) {
            throw new IllegalArgumentException("udp-fd/tcp-fd: " + udpFd + "/" + tcpFd
                    + " (expected: an open file descriptor number, or -1 to bind)");
        }
        checkDuration("drain-timeout", drainTimeout, Duration.ZERO, Duration.ofHours(1));
        checkDuration("idle-timeout", idleTimeout, Duration.ofSeconds(1), Duration.ofMinutes(10));
        checkDuration("body-timeout", bodyTimeout, Duration.ofSeconds(1), Duration.ofHours(1));
        checkDuration("header-timeout", headerTimeout, Duration.ofSeconds(1), Duration.ofMinutes(10));
        if (bodyMinRate < 0 || bodyMinRate > 1L << 30) {
            throw new IllegalArgumentException("body-min-rate: " + bodyMinRate
                    + " (expected: bytes per second up to 1g; 0 turns the check off)");
        }
        staticPrefix = staticPrefix == null ? "/static" : staticPrefix;
        earlyData = earlyData == null ? EarlyDataPolicy.SAFE : earlyData;
        serverId = serverId == null ? "" : serverId;
        try {
            ConnectionIds.parseServerId(serverId);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("server-id: " + serverId + " (" + e.getMessage() + ")");
        }
        retry = retry == null ? RetryTokens.Mode.AUTO : retry;
        if (retryThreshold < 1 || retryThreshold > 1_000_000) {
            throw new IllegalArgumentException("retry-threshold: " + retryThreshold + " (expected: 1..1000000)");
        }
        resetHoldoff = resetHoldoff == null ? Duration.ZERO : resetHoldoff;
        accessLog = accessLog == null || accessLog.isBlank() ? null : accessLog;
        accessLogFormat = accessLogFormat == null ? AccessLogFormat.COMBINED : accessLogFormat;
        compression = compression == null ? CompressionConfig.DEFAULT : compression;
        proxyProtocolFrom = proxyProtocolFrom == null ? TrustedNetworks.NONE : proxyProtocolFrom;
        checkDuration("stateless-reset-holdoff", resetHoldoff, Duration.ZERO, Duration.ofHours(2));
        if (!staticPrefix.startsWith("/")) {
            throw new IllegalArgumentException("static-prefix: " + staticPrefix + " (expected: a path starting with /)");
        }
        if (proxy != null && staticDir != null && staticPrefix.equals("/")) {
            throw new IllegalArgumentException("static-prefix: / with --upstream (expected: a prefix such as /static "
                    + "for --static-dir; the proxy serves every other path)");
        }
    }

    /** A builder with the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** This config with sockets to adopt (from the supervisor) instead of binding. */
    public WorkerConfig withAdoptedSockets(int udp, int tcp) {
        return new WorkerConfig(address, port, cert, key, stateDir, transport, ioThreads, slot, reusePort, udp, tcp,
                drainTimeout, idleTimeout, bodyTimeout, quic, staticDir, staticPrefix, earlyData, serverId, retry,
                retryThreshold, statelessReset, resetHoldoff, headerTimeout, bodyMinRate, proxy, accessLog,
                accessLogFormat, compression, proxyProtocolFrom, webSocket);
    }

    /** The {@code alt-svc} value advertising HTTP/3 on {@code port} (RFC 7838). */
    public static String altSvc(int port) {
        return "h3=\":" + port + "\"; ma=86400";
    }

    /**
     * Parses a rate in bytes per second: a byte count with an optional unit ({@code 240}, {@code 1k}, {@code 1MiB}).
     *
     * @throws IllegalArgumentException naming {@code key}, the value and what is expected
     */
    public static long parseRate(String key, String text) {
        try {
            return ConfigValues.size(key, text);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(key + ": " + text
                    + " (expected: bytes per second such as 240, 1k or 1MiB; 0 turns the check off)");
        }
    }

    /** The default state directory: {@code $XDG_STATE_HOME/quicfleet} or {@code ~/.local/state/quicfleet}. */
    public static Path defaultStateDir() {
        String xdg = System.getenv("XDG_STATE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg)
                : Path.of(System.getProperty("user.home"), ".local", "state");
        return base.resolve("quicfleet");
    }

    private static void checkDuration(String key, Duration value, Duration min, Duration max) {
        if (value == null || value.compareTo(min) < 0 || value.compareTo(max) > 0) {
            throw new IllegalArgumentException(key + ": " + (value == null ? "missing" : ConfigValues.format(value))
                    + " (expected: " + ConfigValues.format(min) + ".." + ConfigValues.format(max) + ")");
        }
    }

    /** Builds a {@link WorkerConfig}; every setter is optional. */
    public static final class Builder {
        private InetAddress address;
        private int port = DEFAULT_PORT;
        private Path cert;
        private Path key;
        private Path stateDir = defaultStateDir();
        private String transport = "auto";
        private int ioThreads = 1;
        private int slot;
        private boolean reusePort;
        private int udpFd = -1;
        private int tcpFd = -1;
        private Duration drainTimeout = Duration.ofSeconds(10);
        private Duration idleTimeout = Duration.ofSeconds(30);
        private Duration bodyTimeout = Duration.ofSeconds(60);
        private QuicLimits quic = QuicLimits.defaults();
        private Path staticDir;
        private String staticPrefix = "/static";
        private EarlyDataPolicy earlyData = EarlyDataPolicy.SAFE;
        private String serverId = "";
        private RetryTokens.Mode retry = RetryTokens.Mode.AUTO;
        private int retryThreshold = DEFAULT_RETRY_THRESHOLD;
        private boolean statelessReset = true;
        private Duration resetHoldoff = Duration.ZERO;
        private Duration headerTimeout = DEFAULT_HEADER_TIMEOUT;
        private long bodyMinRate = DEFAULT_BODY_MIN_RATE;
        private ProxyConfig proxy;
        private TrustedNetworks proxyProtocolFrom = TrustedNetworks.NONE;
        private String accessLog;
        private AccessLogFormat accessLogFormat = AccessLogFormat.COMBINED;
        private CompressionConfig compression = CompressionConfig.DEFAULT;
        private boolean webSocket = true;

        private Builder() {
            try {
                address = InetAddress.getByAddress(new byte[4]);
            } catch (UnknownHostException e) {
                throw new AssertionError(e);
            }
        }

        public Builder address(InetAddress address) {
            this.address = address;
            return this;
        }

        public Builder port(int port) {
            this.port = port;
            return this;
        }

        /** Certificate chain and key (PEM); both or neither. */
        public Builder tls(Path cert, Path key) {
            this.cert = cert;
            this.key = key;
            return this;
        }

        public Builder stateDir(Path stateDir) {
            this.stateDir = stateDir;
            return this;
        }

        public Builder transport(String transport) {
            this.transport = transport;
            return this;
        }

        public Builder ioThreads(int ioThreads) {
            this.ioThreads = ioThreads;
            return this;
        }

        public Builder slot(int slot) {
            this.slot = slot;
            return this;
        }

        public Builder reusePort(boolean reusePort) {
            this.reusePort = reusePort;
            return this;
        }

        /** Adopt already bound sockets (the supervisor's); {@code -1} binds. */
        public Builder adopt(int udpFd, int tcpFd) {
            this.udpFd = udpFd;
            this.tcpFd = tcpFd;
            return this;
        }

        public Builder drainTimeout(Duration drainTimeout) {
            this.drainTimeout = drainTimeout;
            return this;
        }

        public Builder idleTimeout(Duration idleTimeout) {
            this.idleTimeout = idleTimeout;
            return this;
        }

        public Builder bodyTimeout(Duration bodyTimeout) {
            this.bodyTimeout = bodyTimeout;
            return this;
        }

        /** How long an HTTP/1.1 request head may take to arrive. */
        public Builder headerTimeout(Duration headerTimeout) {
            this.headerTimeout = headerTimeout;
            return this;
        }

        /** The minimum average request body rate in bytes per second; 0 turns the check off. */
        public Builder bodyMinRate(long bodyMinRate) {
            this.bodyMinRate = bodyMinRate;
            return this;
        }

        public Builder quic(QuicLimits quic) {
            this.quic = quic;
            return this;
        }

        public Builder serverId(String serverId) {
            this.serverId = serverId;
            return this;
        }

        /** When to send Retry packets, and (for {@code auto}) above how many handshakes in progress. */
        public Builder retry(RetryTokens.Mode retry, int threshold) {
            this.retry = retry;
            this.retryThreshold = threshold;
            return this;
        }

        /**
         * Whether packets for connections of this slot that the worker does not know get a stateless reset, and for
         * how long after start none is sent (a reloaded worker's predecessor still drains on the same socket).
         */
        public Builder statelessReset(boolean enabled, Duration holdoff) {
            this.statelessReset = enabled;
            this.resetHoldoff = holdoff;
            return this;
        }

        public Builder earlyData(EarlyDataPolicy earlyData) {
            this.earlyData = earlyData;
            return this;
        }

        /** Proxies every host and path to {@code proxy}'s upstreams instead of serving the demo site. */
        public Builder proxy(ProxyConfig proxy) {
            this.proxy = proxy;
            return this;
        }

        /** Writes a line per request to {@code file} ({@code null}: no access log) in {@code format}. */
        public Builder accessLog(String file, AccessLogFormat format) {
            this.accessLog = file;
            this.accessLogFormat = format;
            return this;
        }

        /** TCP peers whose connections must start with a PROXY protocol header ({@code --proxy-protocol-from}). */
        public Builder proxyProtocolFrom(TrustedNetworks networks) {
            this.proxyProtocolFrom = networks;
            return this;
        }

        /** How responses are compressed ({@link CompressionConfig#OFF}: never). */
        public Builder compression(CompressionConfig compression) {
            this.compression = compression;
            return this;
        }

        /**
         * Whether WebSocket handshakes are served ({@code --websocket}); off: extended CONNECT is not advertised (a
         * {@code :protocol} request is a stream error) and {@code Upgrade: websocket} is a plain request.
         */
        public Builder webSocket(boolean enabled) {
            this.webSocket = enabled;
            return this;
        }

        public Builder staticFiles(Path dir, String prefix) {
            this.staticDir = dir;
            this.staticPrefix = prefix;
            return this;
        }

        /**
         * Builds and validates. The QUIC idle timeout follows {@link #idleTimeout} so one setting governs idle
         * connections on every protocol.
         */
        public WorkerConfig build() {
            checkDuration("idle-timeout", idleTimeout, Duration.ofSeconds(1), Duration.ofMinutes(10));
            QuicLimits limits = new QuicLimits(idleTimeout, quic.maxStreams(), quic.maxData(), quic.maxStreamData(),
                    quic.maxUdpPayload(), quic.gsoSegments(), quic.udpSocketBuffer(), quic.handshakeTimeout(),
                    quic.pmtuDiscovery());
            return new WorkerConfig(address, port, cert, key, stateDir, transport, ioThreads, slot, reusePort, udpFd,
                    tcpFd, drainTimeout, idleTimeout, bodyTimeout, limits, staticDir, staticPrefix, earlyData, serverId,
                    retry, retryThreshold, statelessReset, resetHoldoff, headerTimeout, bodyMinRate, proxy,
                    accessLog, accessLogFormat, compression, proxyProtocolFrom, webSocket);
        }
    }
}
