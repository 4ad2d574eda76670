package dev.quicfleet.client;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.handler.codec.http3.DefaultHttp3UnknownFrame;
import io.netty.handler.codec.http3.Http3;
import io.netty.handler.codec.http3.Http3ClientConnectionHandler;
import io.netty.handler.codec.http3.Http3GoAwayFrame;
import io.netty.handler.codec.http3.Http3SettingsFrame;
import io.netty.handler.codec.quic.QLogConfiguration;
import io.netty.handler.codec.quic.QuicChannel;
import io.netty.handler.codec.quic.QuicChannelOption;
import io.netty.handler.codec.quic.QuicConnectionCloseEvent;
import io.netty.handler.codec.quic.QuicConnectionPathStats;
import io.netty.handler.codec.quic.QuicConnectionStats;
import io.netty.handler.codec.quic.QuicException;
import io.netty.handler.codec.quic.QuicSslEngine;
import io.netty.handler.codec.quic.QuicStreamChannel;
import io.netty.handler.codec.quic.QuicStreamLimitChangedEvent;
import io.netty.handler.codec.quic.QuicStreamType;
import io.netty.handler.codec.quic.QuicTransportError;
import io.netty.handler.codec.quic.SslEarlyDataReadyEvent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.net.PortUnreachableException;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLSession;

/**
 * One QUIC connection to one server, carrying any number of concurrent HTTP/3 requests (as many at a time as the
 * server's stream limit allows; the rest wait in order). Thread-safe: {@link #send} may be called from any thread;
 * all protocol work runs on the connection's event loop.
 *
 * <p>Each connection has its own UDP socket, connected to the server, so an ICMP "port unreachable" reaches it and
 * fails the handshake at once instead of after the timeout.
 */
public final class H3Connection implements AutoCloseable {

    /**
     * A reserved HTTP/3 frame type (0x1f * N + 0x21, RFC 9114 §7.2.8; N = 1, Netty only sends N >= 1): receivers
     * must ignore it.
     */
    private static final long KEEP_ALIVE_FRAME_TYPE = 0x1f + 0x21;

    /**
     * SO_RCVBUF of each connection's UDP socket (the kernel caps it at net.core.rmem_max). With Linux's default of
     * 208 KiB, a server's GSO bursts overflowed it during bulk downloads on loopback: lost packets, a collapsed
     * congestion window, and a 1 GiB download 2-3x slower than the client could go.
     */
    private static final int UDP_RECEIVE_BUFFER = 4 << 20;

    /** The read buffer with UDP GRO: the largest UDP datagram, which a GRO read can fill with segments. */
    private static final int GRO_READ_BUFFER = 64 << 10;

    /** HTTP/3's "no error" (RFC 9114 §8.1): the code of a CONNECTION_CLOSE that ends a connection we are done with. */
    static final int H3_NO_ERROR = 0x100;

    /** The longest a closing connection waits for its CONNECTION_CLOSE to leave the UDP socket before closing it. */
    private static final Duration CLOSE_FLUSH_BOUND = Duration.ofMillis(200);

    private final H3Client client;
    private final String host;
    private final int port;
    private final InetSocketAddress address;
    private final int sessionKey;
    private final boolean offeredTicket;
    private final EventLoop loop;
    private final CompletableFuture<H3Connection> ready = new CompletableFuture<>();
    private final CompletableFuture<H3Connection> handshake = new CompletableFuture<>();
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private final CompletableFuture<Long> goAway = new CompletableFuture<>();
    /** The server's SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 9220), once its SETTINGS frame arrived. */
    private final CompletableFuture<Boolean> connectProtocol = new CompletableFuture<>();
    private final long startNanos = System.nanoTime();

    // event-loop state
    private final Deque<Exchange<?>> waiting = new ArrayDeque<>();
    private final Set<Exchange<?>> active = new HashSet<>();
    private Channel udp;
    private QuicChannel quic;
    /** Batches acknowledgements (null: quiche acknowledges after every read). */
    private DelayedAcks acks;
    private ScheduledFuture<?> connectTimeout;
    private H3Exception closeCause;
    private boolean wroteEarly;
    private boolean earlyReady;
    private String peerClose;
    /** The smallest stream id of the server's GOAWAY frames (-1: none came): streams from it on are not served. */
    private long goAwayId = -1;

    // facts, written once on the event loop when the handshake finishes
    private volatile boolean handshakeDone;
    private volatile long handshakeNanos = -1;
    private volatile Boolean resumed;
    private volatile EarlyData earlyData;
    private volatile String tlsProtocol;
    private volatile String cipherSuite;
    private volatile String alpn;
    private volatile boolean goAwayReceived;

    H3Connection(H3Client client, String host, int port, InetSocketAddress address, int sessionKey,
                 boolean offeredTicket, EventLoop loop) {
        this.client = client;
        this.host = host;
        this.port = port;
        this.address = address;
        this.sessionKey = sessionKey;
        this.offeredTicket = offeredTicket;
        this.loop = loop;
        this.earlyData = client.earlyData() ? EarlyData.NOT_SENT : EarlyData.OFF;
    }

    /**
     * Completes when the handshake has finished (then {@link #resumed()} and {@link #earlyData()} are final); fails
     * like {@link #ready()}.
     */
    public CompletableFuture<H3Connection> handshake() {
        return handshake;
    }

    /** Starts the UDP socket and the QUIC handshake. */
    void start() {
        loop.execute(this::startOnLoop);
    }

    /**
     * Completes when requests go out: when the handshake finished, or earlier, when early data is enabled and the
     * stored ticket allows 0-RTT. Fails with an {@link H3Exception} when the connection cannot be set up.
     */
    public CompletableFuture<H3Connection> ready() {
        return ready;
    }

    private void startOnLoop() {
        connectTimeout = loop.schedule(() -> fail(new H3TimeoutException("no QUIC handshake with " + peer()
                + " within " + H3Client.format(client.connectTimeout()))), client.connectTimeout().toNanos(),
                TimeUnit.NANOSECONDS);
        acks = client.newDelayedAcks();
        Bootstrap udpBootstrap = new Bootstrap()
                .group(loop)
                .channelFactory(client.transport()::newDatagramChannel)
                .option(ChannelOption.SO_RCVBUF, UDP_RECEIVE_BUFFER)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        if (acks != null) {
                            ch.pipeline().addLast(acks);
                        }
                        ch.pipeline().addLast(client.codec(host, sessionKey), new UdpErrors());
                    }
                });
        if (client.gro()) {
            // One read returns a whole GSO burst (up to 64 KiB): a smaller buffer would truncate it.
            udpBootstrap.option(EpollChannelOption.UDP_GRO, true)
                    .option(ChannelOption.RCVBUF_ALLOCATOR, new FixedRecvByteBufAllocator(GRO_READ_BUFFER));
        }
        ChannelFuture bound = udpBootstrap.connect(address);
        udp = bound.channel();
        bound.addListener(f -> {
            if (!f.isSuccess()) {
                fail(new H3ConnectException("cannot open a UDP socket to " + peer() + ": " + f.cause().getMessage(),
                        f.cause()));
                return;
            }
            var bootstrap = QuicChannel.newBootstrap(udp)
                    .handler(new ChannelInitializer<QuicChannel>() {
                        @Override
                        protected void initChannel(QuicChannel ch) {
                            quic = ch;
                            // The same as new Http3ClientConnectionHandler(), plus a handler that sees the server's
                            // control frames: Netty notes a GOAWAY but still opens new request streams after it.
                            ch.pipeline().addLast(new Http3ClientConnectionHandler(new ControlFrames(), null, null,
                                    null, true), new Events());
                        }
                    })
                    .remoteAddress(address);
            Path qlog = client.qlogDir();
            if (qlog != null) {
                String file = qlog.resolve("h3-" + host + "-" + port + "-" + System.currentTimeMillis() + "-"
                        + (-sessionKey) + ".sqlog").toString();
                bootstrap.option(QuicChannelOption.QLOG, new QLogConfiguration(file, "quicfleet h3", host + ":" + port));
            }
            bootstrap.connect().addListener((Future<QuicChannel> c) -> {
                if (c.isSuccess()) {
                    onHandshake();
                } else {
                    fail(connectFailure(c.cause()));
                }
            });
        });
    }

    /** The QUIC handshake finished (the connection is established). */
    private void onHandshake() {
        handshakeNanos = System.nanoTime() - startNanos;
        if (connectTimeout != null) {
            connectTimeout.cancel(false);
        }
        QuicSslEngine engine = (QuicSslEngine) quic.sslEngine();
        if (engine != null) {
            resumed = NettySessionCache.resumed(engine);
            SSLSession session = engine.getSession();
            tlsProtocol = session.getProtocol();
            cipherSuite = session.getCipherSuite();
            alpn = engine.getApplicationProtocol();
        }
        if (client.earlyData()) {
            earlyData = !wroteEarly ? EarlyData.NOT_SENT : earlyAccepted() ? EarlyData.ACCEPTED : EarlyData.REJECTED;
        }
        handshakeDone = true;
        ready.complete(this);
        handshake.complete(this);
        drain();
    }

    /**
     * Whether the server accepted the 0-RTT data we sent. Netty does not expose BoringSSL's
     * {@code SSL_early_data_accepted}; a server can only accept early data on a resumed session, and a server that
     * resumes but refuses early data (possible, e.g. on a suspected replay) is told apart by the 0-RTT packets it
     * never acknowledged: quiche declares them lost and retransmits their stream data in 1-RTT packets.
     */
    private boolean earlyAccepted() {
        return Boolean.TRUE.equals(resumed);
    }

    /** A failure before or during the handshake, or the connection's end: fails everything still waiting. */
    void fail(H3Exception cause) {
        if (!loop.inEventLoop()) {
            loop.execute(() -> fail(cause));
            return;
        }
        if (closeCause == null) {
            closeCause = cause;
        }
        if (connectTimeout != null) {
            connectTimeout.cancel(false);
        }
        ready.completeExceptionally(closeCause);
        handshake.completeExceptionally(closeCause);
        Exchange<?> e;
        while ((e = waiting.pollFirst()) != null) {
            e.fail(closeCause);
        }
        for (Exchange<?> a : Set.copyOf(active)) {
            a.fail(closeCause);
        }
        active.clear();
        closeChannels();
    }

    private void closeChannels() {
        if (quic != null && quic.isOpen()) {
            quic.close(true, H3_NO_ERROR, Unpooled.EMPTY_BUFFER);
        }
        if (udp != null && udp.isRegistered()) {
            ChannelFuture f = quic != null ? quic.closeFuture() : udp.newSucceededFuture();
            f.addListener(x -> closeUdpWhenFlushed(System.nanoTime() + CLOSE_FLUSH_BOUND.toNanos()));
        } else {
            finished();
        }
    }

    /**
     * Closes the UDP socket once the datagrams queued on it have left, at most until {@code deadlineNanos}. When
     * the QuicChannel's close completes, its last datagrams, the CONNECTION_CLOSE among them, are still queued on this
     * socket (3 of them after each request of a --new-connection-per-request run, on io_uring), and closing the socket
     * at once dropped them: the server never heard of the close and kept every connection until its idle timeout
     * (26,613 open after one benchmark's handshake runs).
     */
    private void closeUdpWhenFlushed(long deadlineNanos) {
        ChannelOutboundBuffer out = udp.unsafe().outboundBuffer();
        if (udp.isOpen() && out != null && !out.isEmpty() && System.nanoTime() < deadlineNanos) {
            loop.schedule(() -> closeUdpWhenFlushed(deadlineNanos), 1, TimeUnit.MILLISECONDS);
            return;
        }
        udp.close().addListener(y -> finished());
    }

    private void finished() {
        if (closed.isDone()) {
            return;
        }
        SessionTicket ticket = client.sessionCache().take(host, sessionKey, port);
        if (ticket != null) {
            try {
                client.sessions().put(ticket);
            } catch (RuntimeException e) {
                // a session store that cannot write costs resumption, not the exchange
            }
        }
        client.forget(this, sessionKey);
        closed.complete(null);
    }

    /**
     * Sends {@code request} on this connection. The future fails with an {@link H3Exception} subclass.
     */
    public <T> CompletableFuture<H3Response<T>> send(H3Request request, BodyHandler<T> handler) {
        Exchange<T> exchange = new Exchange<>(this, request, handler.newSink());
        loop.execute(() -> submit(exchange));
        return exchange.result();
    }

    private void submit(Exchange<?> exchange) {
        // GOAWAY first: a request sent before it arrived may get here after the connection closed because of it.
        if (goAwayId >= 0) {
            exchange.fail(goAwayRefused(exchange));
            return;
        }
        if (closeCause != null) {
            exchange.fail(closeCause);
            return;
        }
        if (exchange.request().timeout() != null) {
            exchange.scheduleTimeout(loop);
        }
        waiting.addLast(exchange);
        drain();
    }

    /** Opens streams for waiting exchanges while the server's stream limit allows. */
    void drain() {
        if (quic == null || closeCause != null || goAwayId >= 0 || (!handshakeDone && !earlyReady)) {
            return;
        }
        while (!waiting.isEmpty()) {
            // Before the handshake Netty may not have read the remembered limit yet: let quiche decide.
            if (handshakeDone && quic.peerAllowedStreams(QuicStreamType.BIDIRECTIONAL) <= 0) {
                return;
            }
            Exchange<?> exchange = waiting.pollFirst();
            if (exchange.isDone()) {
                continue;
            }
            boolean early = !handshakeDone;
            Future<QuicStreamChannel> stream = Http3.newRequestStream(quic, exchange);
            if (stream.isDone() && !stream.isSuccess()) {
                if (isStreamLimit(stream.cause())) {
                    waiting.addFirst(exchange);
                    return;
                }
                exchange.fail(new H3ProtocolException("cannot open a request stream to " + peer() + ": "
                        + stream.cause().getMessage(), stream.cause()));
                continue;
            }
            active.add(exchange);
            if (stream.isSuccess()) {
                exchange.streamId(stream.getNow().streamId());
            }
            if (early) {
                wroteEarly = true;
                exchange.sentEarly(true);
            }
            stream.addListener((Future<QuicStreamChannel> f) -> {
                if (f.isSuccess()) {
                    exchange.streamId(f.getNow().streamId());
                } else {
                    active.remove(exchange);
                    exchange.fail(new H3ProtocolException("cannot open a request stream to " + peer() + ": "
                            + f.cause().getMessage(), f.cause()));
                }
            });
        }
    }

    private static boolean isStreamLimit(Throwable t) {
        return t instanceof QuicException q && q.error() == QuicTransportError.STREAM_LIMIT_ERROR
                || t != null && String.valueOf(t.getMessage()).contains("STREAM_LIMIT");
    }

    /**
     * Opens a WebSocket on {@code path} (RFC 9220 extended CONNECT) once the server's SETTINGS allow it; fails with
     * an {@link H3ProtocolException} when they do not, or when the server answers other than 200, and with an
     * {@link H3StreamResetException} when the server resets the stream.
     */
    public CompletableFuture<H3WebSocket> openWebSocket(String path) {
        return openWebSocket(path, false);
    }

    /**
     * {@link #openWebSocket(String)}; {@code evenIfNotEnabled}: sends the extended CONNECT although the server's
     * SETTINGS did not enable it (a malformed request, RFC 9220 §3), for tests of the server's answer.
     */
    CompletableFuture<H3WebSocket> openWebSocket(String path, boolean evenIfNotEnabled) {
        H3WebSocket socket = new H3WebSocket(port == 443 ? host : host + ":" + port, path, peer());
        return ready.thenCompose(c -> connectProtocol).thenCompose(enabled -> {
            if (!enabled && !evenIfNotEnabled) {
                return CompletableFuture.failedFuture(new H3ProtocolException(peer() + " did not enable extended "
                        + "CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL): no WebSocket over HTTP/3"));
            }
            loop.execute(() -> Http3.newRequestStream(quic, socket.handler()).addListener(
                    (Future<QuicStreamChannel> f) -> {
                        if (!f.isSuccess()) {
                            socket.opened().completeExceptionally(new H3ProtocolException(
                                    "cannot open a request stream to " + peer() + ": " + f.cause().getMessage(),
                                    f.cause()));
                        }
                    }));
            return socket.opened();
        });
    }

    /** Called by an exchange when it ends, on the event loop. */
    void done(Exchange<?> exchange) {
        active.remove(exchange);
        if (goAwayId >= 0) {
            closeIfDrained();
        } else {
            drain();
        }
    }

    /**
     * The server sent GOAWAY (RFC 9114 §5.2), on the event loop: no new request stream on this connection. Requests
     * still waiting for a stream, and those on streams from {@code id} on, which the server will not process, fail
     * with {@link H3GoAwayException} (safe to send again on a new connection); those below {@code id} finish. Then
     * the connection is closed: the server wants it gone, and nothing else will use it.
     */
    private void onGoAway(long id) {
        goAwayId = goAwayId < 0 ? id : Math.min(goAwayId, id);
        goAwayReceived = true;
        goAway.complete(goAwayId);
        Exchange<?> e;
        while ((e = waiting.pollFirst()) != null) {
            e.fail(goAwayRefused(e));
        }
        for (Exchange<?> a : Set.copyOf(active)) {
            // -1: the stream is not created yet, so its id will be higher still
            if (a.streamId() < 0 || a.streamId() >= goAwayId) {
                a.fail(goAwayRefused(a));
            }
        }
        closeIfDrained();
    }

    private H3GoAwayException goAwayRefused(Exchange<?> exchange) {
        return new H3GoAwayException(exchange.request().method() + " " + exchange.request().path() + " not processed: "
                + peer() + " sent GOAWAY (stream " + goAwayId + " and later are not served); send it again on a new "
                + "connection", goAwayId);
    }

    /** After a GOAWAY: closes the connection (H3_NO_ERROR) once its last request has ended. */
    private void closeIfDrained() {
        if (active.isEmpty() && waiting.isEmpty() && closeCause == null) {
            fail(new H3StreamResetException("connection to " + peer() + " closed by the client after the server's "
                    + "GOAWAY", -1));
        }
    }

    /** The failure that ends in-flight exchanges when the QUIC connection goes away. */
    H3Exception connectionGone() {
        if (closeCause != null) {
            return closeCause;
        }
        if (quic != null && quic.isTimedOut()) {
            return new H3TimeoutException("connection to " + peer() + " idle for "
                    + H3Client.format(client.idleTimeout()) + ", closed");
        }
        return new H3StreamResetException("connection to " + peer() + " closed"
                + (peerClose != null ? " by the server (" + peerClose + ")" : ""), -1);
    }

    private H3Exception connectFailure(Throwable cause) {
        Throwable c = cause;
        while (c != null) {
            if (c instanceof H3Exception h3) {
                return h3;
            }
            if (c instanceof PortUnreachableException || c instanceof java.net.ConnectException) {
                return refused(c);
            }
            if (c instanceof CertificateException || c instanceof SSLHandshakeException) {
                return tlsFailure(c);
            }
            c = c.getCause();
        }
        if (client.certificateFailure(sessionKey) instanceof CertificateException refused) {
            return new H3TlsException("TLS handshake with " + peer() + " failed: certificate not trusted ("
                    + TrustConfig.explain(refused, host) + "); trust its CA with --cacert FILE, or skip verification "
                    + "with -k", refused);
        }
        if (String.valueOf(cause.getMessage()).contains("TLS_FAIL")) {
            return new H3TlsException("TLS handshake with " + peer() + " failed (" + cause.getMessage() + ")", cause);
        }
        if (cause instanceof SSLException) {
            return tlsFailure(cause);
        }
        if (peerClose != null) {
            return new H3ConnectException("QUIC handshake with " + peer() + " failed: the server closed the "
                    + "connection (" + peerClose + ")", cause);
        }
        if (quic != null && quic.isTimedOut()) {
            return new H3TimeoutException("no QUIC handshake with " + peer() + " within "
                    + H3Client.format(client.idleTimeout()) + " (idle timeout)", cause);
        }
        if (cause instanceof ClosedChannelException) {
            return new H3ConnectException("QUIC handshake with " + peer() + " failed: connection closed", cause);
        }
        return new H3ConnectException("QUIC handshake with " + peer() + " failed: " + cause, cause);
    }

    private H3Exception refused(Throwable cause) {
        return new H3ConnectException("connection refused: nothing listening on UDP " + peer()
                + " (ICMP port unreachable)", cause);
    }

    private H3Exception tlsFailure(Throwable cause) {
        CertificateException refused = client.certificateFailure(sessionKey);
        if (refused != null) {
            return new H3TlsException("TLS handshake with " + peer() + " failed: certificate not trusted ("
                    + TrustConfig.explain(refused, host) + "); trust its CA with --cacert FILE, or skip verification "
                    + "with -k", refused);
        }
        Throwable root = cause;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String why = root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
        return new H3TlsException("TLS handshake with " + peer() + " failed: " + why, cause);
    }

    /** {@code host:port}, and the address when the host is a name. */
    String peer() {
        if (address.isUnresolved()) {
            return host + ":" + port;
        }
        String a = address.getAddress().getHostAddress();
        return host.equals(a) ? host + ":" + port : host + ":" + port + " (" + a + ")";
    }

    EventLoop loop() {
        return loop;
    }

    /**
     * Something was written on one of this connection's streams (on the event loop): with delayed acknowledgements,
     * Netty holds stream writes until the held read completes, so let it complete now.
     */
    void wrote() {
        if (acks != null) {
            acks.wrote();
        }
    }

    /** The server name this connection was made for. */
    public String host() {
        return host;
    }

    /** The server's UDP port. */
    public int port() {
        return port;
    }

    /** The address packets go to. */
    public InetSocketAddress address() {
        return address;
    }

    /** {@code h3}, the negotiated application protocol (null before the handshake finished). */
    public String protocol() {
        return alpn;
    }

    /** The TLS version (TLSv1.3), or null before the handshake finished. */
    public String tlsProtocol() {
        return tlsProtocol;
    }

    /** The TLS cipher suite, or null before the handshake finished. */
    public String cipherSuite() {
        return cipherSuite;
    }

    /** Whether a stored session ticket was offered in the handshake. */
    public boolean offeredTicket() {
        return offeredTicket;
    }

    /** Whether the TLS session was resumed from a ticket; null before the handshake finished or if unknown. */
    public Boolean resumed() {
        return resumed;
    }

    /** What happened to early data; final once the handshake finished. */
    public EarlyData earlyData() {
        return earlyData;
    }

    /** Whether the QUIC handshake has finished. */
    public boolean isHandshakeDone() {
        return handshakeDone;
    }

    /** From starting the connection to the handshake's end, or null before. */
    public Duration handshakeTime() {
        long n = handshakeNanos;
        return n < 0 ? null : Duration.ofNanos(n);
    }

    /**
     * Whether the connection still takes requests: false once it is closed, or once the server sent GOAWAY (then
     * requests already on it below the GOAWAY's stream id still finish, and it closes after the last).
     */
    public boolean isOpen() {
        return !closed.isDone() && closeCause == null && !goAwayReceived && (quic == null || quic.isOpen());
    }

    /** Whether the server sent GOAWAY on this connection (RFC 9114 §5.2): it takes no new requests. */
    public boolean goAwayReceived() {
        return goAwayReceived;
    }

    /**
     * Completes with the stream id of the server's first GOAWAY when it arrives (before the requests it refuses
     * fail); never completes if the connection ends without one.
     */
    public CompletableFuture<Long> goAway() {
        return goAway;
    }

    /** Why the connection closed or failed (the client closing it is a cause too), or null while it is open. */
    H3Exception closeCause() {
        return closeCause;
    }

    /** Completes when the connection and its UDP socket are closed (and its newest ticket stored). */
    public CompletableFuture<Void> closeFuture() {
        return closed;
    }

    /** Transport counters of the connection (RTT, loss, ...); fails if it is closed. */
    public CompletableFuture<ConnectionStats> stats() {
        CompletableFuture<ConnectionStats> out = new CompletableFuture<>();
        loop.execute(() -> {
            if (quic == null || !quic.isOpen()) {
                out.completeExceptionally(new H3Exception("connection to " + peer() + " is closed"));
                return;
            }
            quic.collectStats().addListener((Future<QuicConnectionStats> s) -> {
                if (!s.isSuccess()) {
                    out.completeExceptionally(new H3Exception("no stats: " + s.cause(), s.cause()));
                    return;
                }
                quic.collectPathStats(0).addListener((Future<QuicConnectionPathStats> p) -> {
                    QuicConnectionStats cs = s.getNow();
                    if (p.isSuccess()) {
                        QuicConnectionPathStats ps = p.getNow();
                        out.complete(new ConnectionStats(Duration.ofNanos(ps.rtt()), ps.cwnd(), cs.sent(),
                                cs.recv(), cs.lost(), cs.retrans(), cs.sentBytes(), cs.recvBytes(), ps.pmtu()));
                    } else {
                        out.complete(new ConnectionStats(null, -1, cs.sent(), cs.recv(), cs.lost(), cs.retrans(),
                                cs.sentBytes(), cs.recvBytes(), -1));
                    }
                });
            });
        });
        return out;
    }

    /**
     * Waits until the server's session ticket for this connection has arrived (servers send it right after the
     * handshake), at most {@code timeout}; true if it did. Useful before {@link #close()} when the ticket matters.
     */
    public CompletableFuture<Boolean> awaitTicket(Duration timeout) {
        CompletableFuture<Boolean> out = new CompletableFuture<>();
        long deadline = System.nanoTime() + timeout.toNanos();
        Runnable[] poll = new Runnable[1];
        poll[0] = () -> {
            if (client.sessionCache().has(host, sessionKey)) {
                out.complete(true);
            } else if (System.nanoTime() > deadline || closed.isDone() || closeCause != null) {
                out.complete(false);
            } else {
                loop.schedule(poll[0], 5, TimeUnit.MILLISECONDS);
            }
        };
        loop.execute(poll[0]);
        return out;
    }

    /**
     * Sends an empty frame of a reserved type on the local HTTP/3 control stream: one small ack-eliciting packet that
     * the server ignores, which restarts the QUIC idle timer on both ends (Netty has no PING). Keeps an idle
     * connection open; does nothing before the handshake has finished or once the connection is closing.
     */
    void keepAlive() {
        loop.execute(() -> {
            if (quic == null || !handshakeDone || closeCause != null) {
                return;
            }
            QuicStreamChannel control = Http3.getLocalControlStream(quic);
            if (control != null && control.isActive()) {
                control.writeAndFlush(new DefaultHttp3UnknownFrame(KEEP_ALIVE_FRAME_TYPE, Unpooled.EMPTY_BUFFER));
                wrote();
            }
        });
    }

    /** Closes the connection (HTTP/3 H3_NO_ERROR) and its socket; in-flight exchanges fail. */
    @Override
    public void close() {
        closeAsync();
    }

    /** {@link #close()}, returning when it is done. */
    public CompletableFuture<Void> closeAsync() {
        fail(new H3StreamResetException("connection to " + peer() + " closed by the client", -1));
        return closed;
    }

    /** The QUIC connection's events: early data ready, stream credit, peer close, end. */
    private final class Events extends ChannelInboundHandlerAdapter {
        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof SslEarlyDataReadyEvent) {
                earlyReady = true;
                ready.complete(H3Connection.this);
                drain();
            } else if (evt instanceof QuicStreamLimitChangedEvent) {
                drain();
            } else if (evt instanceof QuicConnectionCloseEvent close) {
                peerClose = (close.isApplicationClose() ? "application error 0x" : "transport error 0x")
                        + Long.toHexString(close.error())
                        + (close.reason().length > 0 ? " " + new String(close.reason(), StandardCharsets.UTF_8) : "");
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (handshakeDone) {
                fail(connectionGone());
            }
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (!handshakeDone) {
                fail(connectFailure(cause));
            }
        }
    }

    /**
     * Frames of the server's control stream (SETTINGS, GOAWAY, unknown types), after Netty validated them; this
     * handler is their last stop, so it releases them.
     */
    private final class ControlFrames extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof Http3GoAwayFrame goAway) {
                    onGoAway(goAway.id());
                } else if (msg instanceof Http3SettingsFrame settings) {
                    connectProtocol.complete(settings.getOrDefault(
                            Http3SettingsFrame.HTTP3_SETTINGS_ENABLE_CONNECT_PROTOCOL, 0) == 1);
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // A control-stream error: Netty closes the connection with the HTTP/3 error, and the exchanges learn of it
            // from there; this only keeps the exception from reaching the pipeline's tail (a log line).
        }
    }

    /** Errors of the UDP socket: an ICMP port unreachable ends the connection at once. */
    private final class UdpErrors extends ChannelInboundHandlerAdapter {
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (cause instanceof PortUnreachableException || cause instanceof java.net.ConnectException) {
                if (!handshakeDone) {
                    fail(refused(cause));
                }
            }
        }
    }
}
