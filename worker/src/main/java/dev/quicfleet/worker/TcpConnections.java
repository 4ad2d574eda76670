package dev.quicfleet.worker;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
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
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ApplicationProtocolNegotiationHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The TCP connections of one worker: TLS, then HTTP/2 or HTTP/1.1 as ALPN decides. Tracks them for drain: HTTP/2
 * connections get GOAWAY, idle HTTP/1.1 connections are closed at once and busy ones after their response.
 */
final class TcpConnections {

    private static final Logger log = LoggerFactory.getLogger(TcpConnections.class);
    private static final AttributeKey<ConnectionInfo> INFO = AttributeKey.valueOf("quicfleet.tcp.info");
    private static final AttributeKey<Object> PROTOCOL_HANDLER = AttributeKey.valueOf("quicfleet.tcp.handler");

    /** HTTP/1.1 limits: request line, header block, and body chunk size. */
    static final int MAX_INITIAL_LINE = 8192;
    static final int MAX_HEADER_SIZE = 16 * 1024;
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

    /**
     * @param maxStreams       HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS (the same limit QUIC advertises)
     * @param streamWindow     HTTP/2 initial stream window (request body bytes in flight per stream)
     * @param connectionWindow HTTP/2 connection window
     * @param drainTimeout     how long a draining HTTP/2 connection waits for its open streams before it closes
     */
    TcpConnections(SslContext sslContext, ExchangeDispatcher dispatcher, Duration idleTimeout, long maxStreams,
                   int streamWindow, int connectionWindow, Duration drainTimeout) {
        this.sslContext = sslContext;
        this.dispatcher = dispatcher;
        this.idleTimeout = idleTimeout;
        this.maxStreams = maxStreams;
        this.streamWindow = streamWindow;
        this.connectionWindow = connectionWindow;
        this.drainTimeout = drainTimeout;
    }

    /** The child handler of the TCP listener. */
    ChannelHandler childInitializer() {
        return new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                connections.add(ch);
                opened();
                ch.closeFuture().addListener(f -> closed());
                ch.pipeline().addLast(
                        sslContext.newHandler(ch.alloc()),
                        new IdleStateHandler(0, 0, idleTimeout.toMillis(), TimeUnit.MILLISECONDS),
                        new Alpn());
            }
        };
    }

    int size() {
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
    CompletableFuture<Void> whenAllClosed() {
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
    void goAway() {
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
    void closeAll() {
        for (Channel ch : connections) {
            // from the head of the pipeline: past the HTTP/2 handler, which would otherwise wait for open streams
            ch.pipeline().firstContext().close();
        }
    }

    private ConnectionInfo info(Channel ch, Protocol protocol) {
        ConnectionInfo info = ch.attr(INFO).get();
        if (info == null) {
            SslHandler ssl = ch.pipeline().get(SslHandler.class);
            info = new ConnectionInfo(protocol, (InetSocketAddress) ch.remoteAddress(),
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
                Http2FrameCodec codec = Http2FrameCodecBuilder.forServer()
                        .gracefulShutdownTimeoutMillis(drainTimeout.toMillis())
                        .initialSettings(Http2Settings.defaultSettings()
                                .maxConcurrentStreams(maxStreams)
                                .initialWindowSize(streamWindow)
                                .maxHeaderListSize(MAX_HEADER_SIZE))
                        .build();
                pipeline.addLast(codec, new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
                    @Override
                    protected void initChannel(Http2StreamChannel stream) {
                        stream.config().setAutoRead(false);
                        stream.pipeline().addLast(new Http2StreamHandler(dispatcher,
                                s -> info(s.parent(), Protocol.H2)));
                    }
                }), new Http2IdleCloser(codec));
                // The connection window starts at 64 KiB (RFC 9113 §6.9.2); open it so streams are not starved.
                codec.connection().local().flowController().incrementWindowSize(
                        codec.connection().connectionStream(), connectionWindow - 65_535);
                ch.flush();
                ch.attr(PROTOCOL_HANDLER).set(codec);
                if (draining) {
                    startDraining(ch);
                }
            } else if (ApplicationProtocolNames.HTTP_1_1.equals(protocol)) {
                Http1Connection h1 = new Http1Connection(dispatcher, c -> info(c, Protocol.HTTP_1_1));
                pipeline.addLast(new HttpServerCodec(MAX_INITIAL_LINE, MAX_HEADER_SIZE, MAX_CHUNK_SIZE),
                        new HttpServerExpectContinueHandler(), h1);
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
            log.debug("TLS handshake with {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
            ctx.close();
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
