package dev.quicfleet.client;

import dev.quicfleet.transport.Transport;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ChannelHandler;
import io.netty.handler.codec.http3.Http3;
import io.netty.handler.codec.quic.QuicSslContext;
import io.netty.handler.codec.quic.QuicSslContextBuilder;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An HTTP/3 client on Netty (QUIC by quiche + BoringSSL). One client holds the event loops, the TLS context and the
 * session tickets; it opens {@link H3Connection}s, each carrying many concurrent requests.
 *
 * <pre>{@code
 * try (H3Client client = H3Client.builder().sessionStore(SessionStore.file(Path.of("session"))).earlyData(true)
 *         .build()) {
 *     H3Response<byte[]> r = client.request(H3Request.get("https://localhost:4433/whoami"),
 *             BodyHandler.ofByteArray(1 << 20));
 *     System.out.println(r.status() + " resumed=" + r.connection().resumed() + " 0-RTT=" + r.connection().earlyData());
 * }
 * }</pre>
 *
 * <p>{@link #send} reuses one connection per server ({@code host:port}) while it is open; {@link #connect} always
 * opens a new one. Failures are {@link H3Exception} subclasses with one-line messages.
 */
public final class H3Client implements AutoCloseable {

    /**
     * How often {@link #send} sends a request again after a GOAWAY refused it: a server that refuses it on a new
     * connection too is going away for good.
     */
    static final int GOAWAY_RETRIES = 3;

    /** The default longest wait before acknowledging with {@link Builder#ackEvery}. */
    static final Duration DEFAULT_MAX_ACK_DELAY = Duration.ofMillis(1);

    /** The longest {@link Builder#ackEvery} delay accepted: below the 25 ms max_ack_delay quiche announces. */
    static final int MAX_ACK_DELAY_LIMIT_MS = 20;

    private final Transport transport;
    private final EventLoopGroup group;
    private final QuicSslContext ssl;
    private final NettySessionCache sessionCache;
    private final SessionStore sessions;
    private final boolean earlyData;
    private final boolean insecure;
    private final Duration connectTimeout;
    private final Duration idleTimeout;
    private final long connectionWindow;
    private final long streamWindow;
    private final int ackThreshold;
    private final Duration maxAckDelay;
    private final boolean gro;
    private final Path qlogDir;
    private final Map<String, H3Connection> pool = new ConcurrentHashMap<>();
    private final RecordingTrustManager trust;
    private final java.util.Set<H3Connection> live = ConcurrentHashMap.newKeySet();

    private H3Client(Builder b, RecordingTrustManager recording) {
        this.transport = b.transport != null ? b.transport : Transport.best();
        this.sessions = b.sessions;
        this.earlyData = b.earlyData;
        this.insecure = b.insecure;
        this.connectTimeout = b.connectTimeout;
        this.idleTimeout = b.idleTimeout;
        this.connectionWindow = b.connectionWindow;
        this.streamWindow = b.streamWindow;
        this.ackThreshold = b.ackThreshold;
        this.maxAckDelay = b.maxAckDelay;
        this.gro = b.gro;
        this.qlogDir = b.qlogDir;
        QuicSslContextBuilder sslBuilder = QuicSslContextBuilder.forClient()
                // RFC 9114 only: Http3.supportedApplicationProtocols() also offers the drafts, and Netty servers pick
                // the client's first match (h3-29).
                .applicationProtocols("h3")
                .earlyData(b.earlyData);
        this.trust = recording;
        if (recording == null) {
            sslBuilder.trustManager(TrustConfig.insecure()).endpointIdentificationAlgorithm(null);
        } else {
            sslBuilder.trustManager(recording);
        }
        this.ssl = sslBuilder.build();
        this.sessionCache = new NettySessionCache(ssl);
        AtomicInteger n = new AtomicInteger();
        this.group = transport.newEventLoopGroup(b.threads, r -> {
            Thread t = new Thread(r, "h3-client-" + n.getAndIncrement());
            t.setDaemon(true);
            return t;
        });
    }

    /** A builder with the defaults: JDK trust store, in-memory tickets, no early data, 10 s connect timeout. */
    public static Builder builder() {
        return new Builder();
    }

    /** Opens a new connection to {@code host:port} (resolving {@code host}); completes when requests can go. */
    public CompletableFuture<H3Connection> connect(String host, int port) {
        return open(host, port).ready();
    }

    /**
     * Opens a new connection to {@code address}, for server name {@code host} (SNI, certificate check, tickets) and
     * port {@code port}. Completes when requests can be sent: after the handshake, or earlier when early data is
     * enabled and a ticket allows 0-RTT (requests sent then go out as early data).
     */
    public CompletableFuture<H3Connection> connect(InetSocketAddress address, String host, int port) {
        return open(address, host, port).ready();
    }

    /**
     * Opens a new connection to {@code host:port} and returns it at once: requests {@link H3Connection#send sent}
     * before it is {@link H3Connection#ready() ready} wait in order and go out as soon as they can, as 0-RTT early
     * data when early data is enabled and a stored ticket allows it. A failure to resolve the host or to connect
     * fails {@code ready()} and every request sent.
     */
    public H3Connection open(String host, int port) {
        InetAddress address;
        try {
            address = InetAddress.getByName(host);
        } catch (UnknownHostException e) {
            H3Connection failed = new H3Connection(this, host, port,
                    InetSocketAddress.createUnresolved(host, port), 0, false, group.next());
            failed.fail(new H3ConnectException("cannot resolve host " + host, e));
            return failed;
        }
        return open(new InetSocketAddress(address, port), host, port);
    }

    /** {@link #open(String, int)} to {@code address}, for server name {@code host}. */
    public H3Connection open(InetSocketAddress address, String host, int port) {
        H3Connection connection = prepare(address, host, port);
        connection.start();
        return connection;
    }

    /**
     * A new connection that has not started its handshake yet: requests {@link H3Connection#send sent} on it before
     * {@link H3Connection#start()} are queued on its event loop ahead of the handshake, so they go out as 0-RTT
     * early data whenever the ticket allows, however late the calling thread runs. With {@link #open}, a caller
     * whose thread is preempted between open and send (h3load's main thread, on a busy machine: 25-45 ms) can find
     * the handshake already finished, and its request goes out in 1-RTT.
     */
    H3Connection prepare(InetSocketAddress address, String host, int port) {
        int key = NettySessionCache.nextKey();
        boolean offered = false;
        if (sessionCache.available()) {
            var ticket = sessions.take(host, port);
            if (ticket.isPresent()) {
                sessionCache.put(host, key, ticket.get());
                offered = true;
            }
        }
        H3Connection connection = new H3Connection(this, host, port, address, key, offered, group.next());
        live.add(connection);
        return connection;
    }

    /**
     * Sends {@code request} on the pooled connection to its server, opening one if needed. After the server sent
     * GOAWAY on that connection, new requests go to a new one, and a request the GOAWAY refused (not processed, RFC
     * 9114 §5.2) is sent again there, up to {@value #GOAWAY_RETRIES} times.
     */
    public <T> CompletableFuture<H3Response<T>> send(H3Request request, BodyHandler<T> handler) {
        return send(request, handler, GOAWAY_RETRIES);
    }

    private <T> CompletableFuture<H3Response<T>> send(H3Request request, BodyHandler<T> handler, int retries) {
        String origin = request.uri().getHost() + ":" + request.port();
        H3Connection c = pool.compute(origin, (k, existing) -> existing != null && existing.isOpen() ? existing
                : open(request.uri().getHost(), request.port()));
        // Async: the failure completes on the event loop, and opening a connection resolves the host name.
        return c.send(request, handler).exceptionallyComposeAsync(e -> {
            Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
            return cause instanceof H3GoAwayException && retries > 0 ? send(request, handler, retries - 1)
                    : CompletableFuture.failedFuture(cause);
        });
    }

    /** {@link #send}, waiting for the response (for a streamed body: its head) and unwrapping the failure. */
    public <T> H3Response<T> request(H3Request request, BodyHandler<T> handler) throws H3Exception,
            InterruptedException {
        return await(send(request, handler));
    }

    /** Waits for {@code future} and throws its {@link H3Exception} as is. */
    public static <V> V await(CompletableFuture<V> future) throws H3Exception, InterruptedException {
        try {
            return future.get();
        } catch (ExecutionException | CompletionException e) {
            Throwable cause = e.getCause();
            while ((cause instanceof CompletionException || cause instanceof ExecutionException)
                    && cause.getCause() != null) {
                cause = cause.getCause();
            }
            if (cause instanceof H3Exception h3) {
                throw h3;
            }
            throw new H3Exception(String.valueOf(cause), cause);
        } catch (CancellationException e) {
            throw new H3Exception("cancelled", e);
        }
    }

    void forget(H3Connection connection, int sessionKey) {
        if (trust != null) {
            trust.forget(sessionKey);
        }
        pool.values().remove(connection);
        live.remove(connection);
    }

    ChannelHandler codec(String host, int sessionKey) {
        return Http3.newQuicClientCodecBuilder()
                // The engine's "port" is the connection's own session-cache key (see NettySessionCache).
                .sslEngineProvider(q -> ssl.newEngine(q.alloc(), host, sessionKey))
                .maxIdleTimeout(idleTimeout.toMillis(), TimeUnit.MILLISECONDS)
                .initialMaxData(connectionWindow)
                .initialMaxStreamDataBidirectionalLocal(streamWindow)
                .initialMaxStreamDataBidirectionalRemote(streamWindow)
                .initialMaxStreamDataUnidirectional(1 << 20)
                .initialMaxStreamsUnidirectional(16)
                .initialMaxStreamsBidirectional(0)
                .build();
    }

    /** Why the certificate of the connection with session key {@code key} was refused, or null. */
    java.security.cert.CertificateException certificateFailure(int key) {
        return trust == null ? null : trust.failure(key);
    }

    Transport transport() {
        return transport;
    }

    NettySessionCache sessionCache() {
        return sessionCache;
    }

    /** Where tickets are kept. */
    public SessionStore sessions() {
        return sessions;
    }

    boolean earlyData() {
        return earlyData;
    }

    boolean insecure() {
        return insecure;
    }

    Duration connectTimeout() {
        return connectTimeout;
    }

    Duration idleTimeout() {
        return idleTimeout;
    }

    Path qlogDir() {
        return qlogDir;
    }

    /** The UDP channel's handler that batches acknowledgements, or null when every read is acknowledged. */
    DelayedAcks newDelayedAcks() {
        return ackThreshold > 1 ? new DelayedAcks(ackThreshold, maxAckDelay.toNanos()) : null;
    }

    /** Whether connections receive with UDP GRO (asked for, and the transport has it). */
    boolean gro() {
        return gro && transport == Transport.EPOLL;
    }

    /** Whether session resumption works with this Netty (it reaches into Netty internals; see the docs). */
    public boolean resumptionAvailable() {
        return sessionCache.available();
    }

    /** Closes every open connection (storing its ticket) and stops the event loops, waiting at most a few seconds. */
    @Override
    public void close() {
        List<CompletableFuture<Void>> closing = new ArrayList<>();
        for (H3Connection c : List.copyOf(live)) {
            closing.add(c.closeAsync());
        }
        try {
            CompletableFuture.allOf(closing.toArray(CompletableFuture[]::new)).get(5, TimeUnit.SECONDS);
        } catch (Exception e) {
            // closing is best effort
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }

    static String format(Duration d) {
        if (d == null) {
            return "-";
        }
        long ms = d.toMillis();
        return ms % 1000 == 0 ? ms / 1000 + "s" : ms + "ms";
    }

    /** Builds an {@link H3Client}. */
    public static final class Builder {
        private Transport transport;
        private int threads = 1;
        private boolean insecure;
        private final List<Path> caFiles = new ArrayList<>();
        private SessionStore sessions = SessionStore.inMemory();
        private boolean earlyData;
        private Duration connectTimeout = Duration.ofSeconds(10);
        private Duration idleTimeout = Duration.ofSeconds(30);
        private long connectionWindow = 16L << 20;
        private long streamWindow = 4L << 20;
        private int ackThreshold = 1;
        private Duration maxAckDelay = DEFAULT_MAX_ACK_DELAY;
        private boolean gro;
        private Path qlogDir;

        private Builder() {
        }

        /** Event loop threads (default 1); connections are spread over them. */
        public Builder threads(int threads) {
            if (threads < 1) {
                throw new IllegalArgumentException("threads: " + threads + " (expected: 1 or more)");
            }
            this.threads = threads;
            return this;
        }

        /** The I/O transport (default: the best available, io_uring, epoll, then NIO). */
        public Builder transport(Transport transport) {
            this.transport = transport;
            return this;
        }

        /** Accept any server certificate for any name (curl's {@code -k}). */
        public Builder insecure(boolean insecure) {
            this.insecure = insecure;
            return this;
        }

        /** Trust the certificates in this PEM file too, besides the JDK's trust store. */
        public Builder trust(Path pemFile) {
            caFiles.add(Objects.requireNonNull(pemFile, "pemFile"));
            return this;
        }

        /** Where tickets are kept (default: in memory). */
        public Builder sessionStore(SessionStore sessions) {
            this.sessions = Objects.requireNonNull(sessions, "sessions");
            return this;
        }

        /** Send requests as 0-RTT early data when a stored ticket allows it (default off: replayable). */
        public Builder earlyData(boolean earlyData) {
            this.earlyData = earlyData;
            return this;
        }

        /** The longest a QUIC handshake may take (default 10 s). */
        public Builder connectTimeout(Duration timeout) {
            this.connectTimeout = positive(timeout, "connectTimeout");
            return this;
        }

        /** QUIC idle timeout (default 30 s). */
        public Builder idleTimeout(Duration timeout) {
            this.idleTimeout = positive(timeout, "idleTimeout");
            return this;
        }

        /** Connection and per-stream receive windows, bytes (default 16 MiB and 4 MiB). */
        public Builder windows(long connection, long stream) {
            if (connection < 1 || stream < 1) {
                throw new IllegalArgumentException("windows: " + connection + ", " + stream + " (expected: > 0)");
            }
            this.connectionWindow = connection;
            this.streamWindow = stream;
            return this;
        }

        /**
         * Acknowledge received packets every {@code packets} datagrams, or {@code maxDelay} after the first one not
         * yet acknowledged (default 1: after every read of the socket, quiche's own behaviour). Anything the client
         * writes on a connection goes out at once and carries the pending ACK. For bulk downloads: a client that
         * acknowledges every packet spends most of its CPU on ACKs and makes the server send small packets (see
         * {@code DelayedAcks}). {@code maxDelay} at most {@value #MAX_ACK_DELAY_LIMIT_MS} ms, below quiche's
         * announced max_ack_delay of 25 ms.
         */
        public Builder ackEvery(int packets, Duration maxDelay) {
            if (packets < 1 || packets > 1000) {
                throw new IllegalArgumentException("ackEvery: " + packets + " packets (expected: 1..1000)");
            }
            positive(maxDelay, "maxDelay");
            if (maxDelay.toMillis() > MAX_ACK_DELAY_LIMIT_MS) {
                throw new IllegalArgumentException("maxDelay: " + format(maxDelay) + " (expected: at most "
                        + MAX_ACK_DELAY_LIMIT_MS + "ms, below the 25 ms max_ack_delay quiche announces)");
            }
            this.ackThreshold = packets;
            this.maxAckDelay = maxDelay;
            return this;
        }

        /**
         * Receive with UDP GRO (generic receive offload: one read returns a burst of equal-sized datagrams the server
         * sent with GSO) where the transport has it: epoll only in Netty 4.2; ignored on io_uring and NIO
         * (default off).
         */
        public Builder gro(boolean gro) {
            this.gro = gro;
            return this;
        }

        /** Write a qlog file per connection into this directory (default none). */
        public Builder qlogDir(Path dir) {
            this.qlogDir = dir;
            return this;
        }

        /** The client; fails with {@link H3TlsException} if a CA file cannot be read. */
        public H3Client build() throws H3Exception {
            RecordingTrustManager trust = insecure ? null
                    : new RecordingTrustManager(TrustConfig.extended(TrustConfig.of(caFiles)));
            return new H3Client(this, trust);
        }

        private static Duration positive(Duration d, String name) {
            if (d == null || d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException(name + ": " + d + " (expected: a positive duration)");
            }
            return d;
        }
    }
}
