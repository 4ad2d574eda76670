package dev.quicfleet.worker.protocol.tcp;

import dev.quicfleet.http.ConnectionInfo;
import dev.quicfleet.http.Protocol;
import dev.quicfleet.metrics.TcpErrorReason;
import dev.quicfleet.metrics.WorkerMetrics;
import dev.quicfleet.proxy.TrustedNetworks;
import dev.quicfleet.worker.protocol.ExchangeDispatcher;
import dev.quicfleet.worker.tls.TlsSessions;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.unix.Errors;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerExpectContinueHandler;
import io.netty.handler.codec.http2.DefaultHttp2GoAwayFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ApplicationProtocolNegotiationHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The TCP connections of one worker: TLS, then HTTP/2 or HTTP/1.1 as ALPN decides. Tracks them for drain: HTTP/2
 * connections get GOAWAY, idle HTTP/1.1 connections are closed at once and busy ones after their response.
 *
 * <p>Limits on slow clients: the TLS handshake (Netty's 10 s, a failure counted as a {@code tls} connection error),
 * and, each counted in {@code quicfleet.http.timeouts} by reason, the HTTP/1.1 header timeout
 * ({@link Http1Connection}) and the request body watch and response send timeout ({@link Exchange}). Errors a peer causes (a reset, a broken pipe, a failed TLS handshake) are counted once per
 * connection in {@code quicfleet.tcp.connection.errors} and logged at DEBUG only: a client can write as many of them
 * as it likes.
 */
public final class TcpConnections {

    private static final Logger log = LoggerFactory.getLogger(TcpConnections.class);
    private static final AttributeKey<ConnectionInfo> INFO = AttributeKey.valueOf("quicfleet.tcp.info");
    private static final AttributeKey<Object> PROTOCOL_HANDLER = AttributeKey.valueOf("quicfleet.tcp.handler");
    private static final AttributeKey<Boolean> ERROR_COUNTED = AttributeKey.valueOf("quicfleet.tcp.error");
    /** The name of the last handler of every TCP pipeline; protocol handlers go before it. */
    private static final String PEER_ERRORS = "peer-errors";
    /** Unexpected connection errors are logged at WARN at most once per this interval, with their count. */
    private static final long OTHER_ERROR_LOG_INTERVAL_NANOS = TimeUnit.MINUTES.toNanos(1);

    /** HTTP/1.1 limits: request line, header block, and body chunk size. */
    static final int MAX_INITIAL_LINE = 8192;
    public static final int MAX_HEADER_SIZE = 16 * 1024;
    static final int MAX_CHUNK_SIZE = 64 * 1024;

    /**
     * How long a draining HTTP/2 connection keeps accepting streams the client opened before it saw the first
     * GOAWAY (RFC 9113 §6.8 asks for at least one round trip between the two GOAWAY frames).
     */
    static final Duration GOAWAY_GRACE = Duration.ofSeconds(1);

    private final ChannelGroup connections = new DefaultChannelGroup("tcp", GlobalEventExecutor.INSTANCE);
    private final Object closedLock = new Object();
    private int open;
    private CompletableFuture<Void> allClosed = CompletableFuture.completedFuture(null);
    private volatile boolean draining;
    private final SslContext sslContext;
    private final ExchangeDispatcher dispatcher;
    private final Duration idleTimeout;
    private final long maxStreams;
    private final int streamWindow;
    private final int connectionWindow;
    private final Duration drainTimeout;
    private final Duration headerTimeout;
    private final long bodyMinRate;
    private final WorkerMetrics metrics;
    private final AtomicLong otherErrorsLogged = new AtomicLong(System.nanoTime() - OTHER_ERROR_LOG_INTERVAL_NANOS);
    private final AtomicLong otherErrorsSinceLog = new AtomicLong();
    private final WriteErrors writeErrors = new WriteErrors();
    private final TrustedNetworks proxyProtocolFrom;
    /** Whether WebSocket handshakes are served: HTTP/1.1 Upgrade, and extended CONNECT advertised on HTTP/2. */
    private final boolean webSocket;
    private final AtomicLong proxyRefusalsLogged = new AtomicLong(System.nanoTime() - OTHER_ERROR_LOG_INTERVAL_NANOS);
    private final AtomicLong proxyRefusalsSinceLog = new AtomicLong();

    /**
     * @param maxStreams       HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS (the same limit QUIC advertises)
     * @param streamWindow     HTTP/2 initial stream window (request body bytes in flight per stream)
     * @param connectionWindow HTTP/2 connection window
     * @param drainTimeout     how long a draining HTTP/2 connection waits for its open streams before it closes
     * @param headerTimeout    how long an HTTP/1.1 request head may take to arrive
     * @param bodyMinRate      the minimum average request body rate in bytes per second (0: none)
     * @param proxyProtocolFrom peers whose connections must start with a PROXY protocol header
     *                         ({@link ProxyProtocolGate})
     * @param webSocket        whether WebSocket handshakes are served (RFC 6455 upgrade, RFC 8441 extended CONNECT)
     */
    public TcpConnections(SslContext sslContext, ExchangeDispatcher dispatcher, Duration idleTimeout, long maxStreams,
                   int streamWindow, int connectionWindow, Duration drainTimeout, Duration headerTimeout,
                   long bodyMinRate, TrustedNetworks proxyProtocolFrom, boolean webSocket) {
        this.webSocket = webSocket;
        this.proxyProtocolFrom = proxyProtocolFrom;
        this.headerTimeout = headerTimeout;
        this.bodyMinRate = bodyMinRate;
        this.metrics = dispatcher.metrics();
        this.sslContext = sslContext;
        this.dispatcher = dispatcher;
        this.idleTimeout = idleTimeout;
        this.maxStreams = maxStreams;
        this.streamWindow = streamWindow;
        this.connectionWindow = connectionWindow;
        this.drainTimeout = drainTimeout;
    }

    /** The child handler of the TCP listener. */
    public ChannelHandler childInitializer() {
        return new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                connections.add(ch);
                opened();
                ch.closeFuture().addListener(f -> closed());
                ch.pipeline().addLast(
                        writeErrors,
                        ProxyProtocolGate.forPeer(proxyProtocolFrom, (InetSocketAddress) ch.remoteAddress(),
                                TcpConnections.this::proxyProtocolRefused),
                        sslContext.newHandler(ch.alloc()),
                        new ConnectionIdleTimer(idleTimeout),
                        new Alpn());
                ch.pipeline().addLast(PEER_ERRORS, new PeerErrors());
            }
        };
    }

    public int size() {
        return connections.size();
    }

    private void opened() {
        synchronized (closedLock) {
            if (open++ == 0) {
                allClosed = new CompletableFuture<>();
            }
        }
    }

    private void closed() {
        CompletableFuture<Void> done = null;
        synchronized (closedLock) {
            if (--open == 0) {
                done = allClosed;
            }
        }
        if (done != null) {
            done.complete(null);
        }
    }

    /** Completes when no TCP connection is open (at once if none is). */
    public CompletableFuture<Void> whenAllClosed() {
        synchronized (closedLock) {
            return allClosed;
        }
    }

    /**
     * Drain phase 2. Nothing that reached this worker is dropped:
     * <ul>
     *   <li>HTTP/2: a first GOAWAY that still admits every stream id, then, {@link #GOAWAY_GRACE} later, the
     *       final GOAWAY naming the last stream (RFC 9113 §6.8); the client closes the connection when its streams
     *       end — a request already on the wire when the first GOAWAY left is served, not refused;</li>
     *   <li>HTTP/1.1: idle connections close, busy ones close after their response;</li>
     *   <li>a connection still in its TLS handshake (the listener accepted it just before it closed) finishes the
     *       handshake and is then drained like the others; closing it now would reset it with the client's
     *       ClientHello unread.</li>
     * </ul>
     */
    public void goAway() {
        draining = true;
        for (Channel ch : connections) {
            ch.eventLoop().execute(() -> startDraining(ch));
        }
    }

    private void startDraining(Channel ch) {
        Object handler = ch.attr(PROTOCOL_HANDLER).get();
        if (handler instanceof Http2FrameCodec) {
            ch.writeAndFlush(new DefaultHttp2GoAwayFrame(Http2Error.NO_ERROR).setExtraStreamIds(Integer.MAX_VALUE));
            ch.eventLoop().schedule(() -> finishDraining(ch), GOAWAY_GRACE.toMillis(), TimeUnit.MILLISECONDS);
        } else if (handler instanceof Http1Connection h1) {
            if (h1.idle()) {
                ch.close();
            } else {
                // busy: it closes after its response; a connection that arrived during the drain may still be
                // waiting for its first request, so look again once the grace has passed
                ch.eventLoop().schedule(() -> finishDraining(ch), GOAWAY_GRACE.toMillis(), TimeUnit.MILLISECONDS);
            }
        }
        // handler == null: in the TLS handshake; the ALPN handler drains it once a protocol is agreed
    }

    private void finishDraining(Channel ch) {
        if (!ch.isActive()) {
            return;
        }
        Object handler = ch.attr(PROTOCOL_HANDLER).get();
        if (handler instanceof Http2FrameCodec) {
            // The final GOAWAY. The client closes the connection once its streams end (or the drain deadline
            // does): closing it from here, through Netty's graceful close, cut an in-flight stream short in a test.
            ch.writeAndFlush(new DefaultHttp2GoAwayFrame(Http2Error.NO_ERROR));
        } else if (handler instanceof Http1Connection h1 && h1.idle()) {
            ch.close();
        }
    }

    /** Drain phase 4, or an immediate stop: closes every connection now, open streams or not. */
    public void closeAll() {
        for (Channel ch : connections) {
            // from the head of the pipeline: past the HTTP/2 handler, which would otherwise wait for open streams
            ch.pipeline().firstContext().close();
        }
    }

    /**
     * Closes {@code ch} at once with a TCP reset (SO_LINGER 0), from the head of the pipeline: no TLS close_notify
     * waiting behind a full send buffer, and the kernel drops what the client never read instead of keeping the
     * socket (and up to megabytes of send buffer) alive as an orphan. For clients dropped for a limit.
     */
    static void reset(Channel ch) {
        if (!ch.isOpen()) {
            return;
        }
        try {
            ch.config().setOption(ChannelOption.SO_LINGER, 0);
        } catch (RuntimeException e) {
            // not a socket with SO_LINGER (an embedded channel in a test): a plain close still ends it
        }
        ch.pipeline().firstContext().close();
    }

    /** Classifies an exception on a TCP connection: {@code null} for an unexpected one. */
    static TcpErrorReason classify(Throwable cause) {
        for (Throwable t = cause; t != null; t = t.getCause()) {
            if (t instanceof Errors.NativeIoException e) {
                int errno = Math.abs(e.expectedErr());
                if (errno == Errors.ERRNO_EPIPE_NEGATIVE * -1) {
                    return TcpErrorReason.BROKEN_PIPE;
                }
                if (errno == Errors.ERRNO_ECONNRESET_NEGATIVE * -1) {
                    return TcpErrorReason.RESET;
                }
            }
            if (t instanceof SSLException) {
                return TcpErrorReason.TLS;
            }
            if (t instanceof IOException) {
                String message = String.valueOf(t.getMessage()).toLowerCase(Locale.ROOT);
                if (message.contains("connection reset")) {
                    return TcpErrorReason.RESET;
                }
                if (message.contains("broken pipe")) {
                    return TcpErrorReason.BROKEN_PIPE;
                }
            }
            if (!(t instanceof DecoderException)) {
                break;
            }
        }
        return null;
    }

    /** Counts the error that ends {@code ch} (once per connection), logs it quietly, and closes the connection. */
    private void peerError(Channel ch, Throwable cause) {
        TcpErrorReason reason = classify(cause);
        if (ch.attr(ERROR_COUNTED).setIfAbsent(Boolean.TRUE) == null) {
            metrics.tcpError(reason == null ? TcpErrorReason.OTHER : reason);
            if (reason == null) {
                logOtherError(ch, cause);
            } else if (log.isDebugEnabled()) {
                log.debug("TCP connection from {} ended: {} ({})", ch.remoteAddress(), reason.tagValue(),
                        cause.toString());
            }
        }
        ch.close();
    }

    /** One WARN a minute at most for errors no peer explains, with how many there were; the rest at DEBUG. */
    private void logOtherError(Channel ch, Throwable cause) {
        long count = otherErrorsSinceLog.incrementAndGet();
        long last = otherErrorsLogged.get();
        long now = System.nanoTime();
        if (now - last >= OTHER_ERROR_LOG_INTERVAL_NANOS && otherErrorsLogged.compareAndSet(last, now)) {
            otherErrorsSinceLog.addAndGet(-count);
            log.warn("{} TCP connection(s) failed with an unexpected error in the last minute; the latest, from {}: "
                    + "{} (quicfleet_tcp_connection_errors_total{reason=\"other\"}; DEBUG logs each)", count,
                    ch.remoteAddress(), cause.toString());
        } else {
            log.debug("TCP connection from {} failed", ch.remoteAddress(), cause);
        }
    }

    /**
     * A connection refused by the {@link ProxyProtocolGate}: counted once, and one WARN a minute at most with how
     * many there were (anyone can send a PROXY header; a balancer misconfigured sends one per connection).
     */
    private void proxyProtocolRefused(Channel ch, String why) {
        if (ch.attr(ERROR_COUNTED).setIfAbsent(Boolean.TRUE) == null) {
            metrics.tcpError(TcpErrorReason.PROXY_PROTOCOL);
        }
        long count = proxyRefusalsSinceLog.incrementAndGet();
        long last = proxyRefusalsLogged.get();
        long now = System.nanoTime();
        if (now - last >= OTHER_ERROR_LOG_INTERVAL_NANOS && proxyRefusalsLogged.compareAndSet(last, now)) {
            proxyRefusalsSinceLog.addAndGet(-count);
            log.warn("refused {} TCP connection(s) for the PROXY protocol in the last minute; the latest, from {}: {} "
                    + "(--proxy-protocol-from {}; quicfleet_tcp_connection_errors_total{reason=\"proxy_protocol\"})",
                    count, ch.remoteAddress(), why, proxyProtocolFrom.isEmpty() ? "not set" : proxyProtocolFrom);
        } else {
            log.debug("refused TCP connection from {}: {}", ch.remoteAddress(), why);
        }
    }

    private ConnectionInfo info(Channel ch, Protocol protocol) {
        ConnectionInfo info = ch.attr(INFO).get();
        if (info == null) {
            SslHandler ssl = ch.pipeline().get(SslHandler.class);
            InetSocketAddress proxied = ch.attr(ProxyProtocolGate.CLIENT).get();
            info = new ConnectionInfo(protocol, proxied != null ? proxied : (InetSocketAddress) ch.remoteAddress(),
                    (InetSocketAddress) ch.localAddress(), ssl == null ? null : TlsSessions.resumed(ssl.engine()),
                    false);
            ch.attr(INFO).set(info);
        }
        return info;
    }

    /** Picks HTTP/2 or HTTP/1.1 once the TLS handshake has agreed on a protocol. */
    private final class Alpn extends ApplicationProtocolNegotiationHandler {

        Alpn() {
            super(ApplicationProtocolNames.HTTP_1_1);
        }

        @Override
        protected void configurePipeline(ChannelHandlerContext ctx, String protocol) throws Http2Exception {
            Channel ch = ctx.channel();
            ChannelPipeline pipeline = ctx.pipeline();
            if (ApplicationProtocolNames.HTTP_2.equals(protocol)) {
                Http2Settings settings = Http2Settings.defaultSettings()
                        .maxConcurrentStreams(maxStreams)
                        .initialWindowSize(streamWindow)
                        .maxHeaderListSize(MAX_HEADER_SIZE);
                if (webSocket) {
                    settings.connectProtocolEnabled(true); // RFC 8441: extended CONNECT, for WebSocket over HTTP/2
                }
                Http2FrameCodec codec = Http2FrameCodecBuilder.forServer()
                        .gracefulShutdownTimeoutMillis(drainTimeout.toMillis())
                        .initialSettings(settings)
                        .build();
                // Responses written outside this connection's read — a proxied one arrives from its upstream — each
                // flushed the connection: a TLS record and a send per response. Held to the end of the event loop's
                // turn, the responses finished in one turn share a record and a send (in a read, until its end).
                pipeline.addBefore(PEER_ERRORS, null, new FlushConsolidationHandler(
                        FlushConsolidationHandler.DEFAULT_EXPLICIT_FLUSH_AFTER_FLUSHES, true));
                pipeline.addBefore(PEER_ERRORS, null, codec);
                ChannelInitializer<Http2StreamChannel> streams = new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Http2StreamChannel stream) {
                        stream.config().setAutoRead(false);
                        stream.pipeline().addLast(new Http2StreamHandler(dispatcher,
                                s -> info(s.parent(), Protocol.H2), bodyMinRate, webSocket));
                    }
                };
                pipeline.addBefore(PEER_ERRORS, null, new Http2MultiplexHandler(streams));
                pipeline.addBefore(PEER_ERRORS, null, new Http2IdleCloser(codec));
                // The connection window starts at 64 KiB (RFC 9113 §6.9.2); open it so streams are not starved.
                codec.connection().local().flowController().incrementWindowSize(
                        codec.connection().connectionStream(), connectionWindow - 65_535);
                ch.flush();
                ch.attr(PROTOCOL_HANDLER).set(codec);
                if (draining) {
                    startDraining(ch);
                }
            } else if (ApplicationProtocolNames.HTTP_1_1.equals(protocol)) {
                Http1Connection h1 = new Http1Connection(dispatcher, c -> info(c, Protocol.HTTP_1_1), headerTimeout,
                        bodyMinRate, webSocket);
                pipeline.addBefore(PEER_ERRORS, null, h1.headClock());
                pipeline.addBefore(PEER_ERRORS, null,
                        new HttpServerCodec(MAX_INITIAL_LINE, MAX_HEADER_SIZE, MAX_CHUNK_SIZE));
                pipeline.addBefore(PEER_ERRORS, null, new HttpServerExpectContinueHandler());
                pipeline.addBefore(PEER_ERRORS, null, h1);
                ch.attr(PROTOCOL_HANDLER).set(h1);
                if (draining) {
                    // its first request is probably on the wire: serve it (with Connection: close), and close
                    // only if none came within the grace
                    ch.eventLoop().schedule(() -> finishDraining(ch), GOAWAY_GRACE.toMillis(),
                            TimeUnit.MILLISECONDS);
                }
            } else {
                throw new IllegalStateException("unexpected ALPN protocol: " + protocol);
            }
        }

        @Override
        protected void handshakeFailure(ChannelHandlerContext ctx, Throwable cause) {
            // a client that gave up, or garbage that is not TLS: counted, DEBUG only
            peerError(ctx.channel(), cause);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // Netty's version logs a WARN per connection (and the pipeline's tail another): a reset before the
            // handshake ends is the client's doing
            peerError(ctx.channel(), cause);
        }
    }

    /**
     * The last handler of every TCP pipeline: an exception no protocol handler took is the connection's end.
     * Without it, Netty's tail logs a WARN per connection reset by its client.
     */
    private final class PeerErrors extends ChannelInboundHandlerAdapter {
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            peerError(ctx.channel(), cause);
        }
    }

    /**
     * Sees the failures of writes to the socket, which Netty reports only to the write's promise (the connection then
     * closes without an exception event): a broken pipe, or a reset noticed while writing. First in the pipeline, so
     * it sees the TLS records; one listener instance for all connections, so a write allocates nothing for it.
     */
    @ChannelHandler.Sharable
    private final class WriteErrors extends ChannelOutboundHandlerAdapter {
        private final ChannelFutureListener onFailure = future -> {
            if (!future.isSuccess() && !(future.cause() instanceof ClosedChannelException)) {
                peerError(future.channel(), future.cause());
            }
        };

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            if (!promise.isVoid()) {
                promise.addListener(onFailure);
            }
            ctx.write(msg, promise);
        }
    }

    /** Closes an HTTP/2 connection that stayed idle with no open stream. */
    private static final class Http2IdleCloser extends ChannelInboundHandlerAdapter {
        private final Http2FrameCodec codec;

        Http2IdleCloser(Http2FrameCodec codec) {
            this.codec = codec;
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof IdleStateEvent) {
                if (codec.connection().numActiveStreams() == 0) {
                    ctx.channel().writeAndFlush(new DefaultHttp2GoAwayFrame(Http2Error.NO_ERROR))
                            .addListener(ChannelFutureListener.CLOSE);
                }
                return;
            }
            ctx.fireUserEventTriggered(evt);
        }
    }

}
