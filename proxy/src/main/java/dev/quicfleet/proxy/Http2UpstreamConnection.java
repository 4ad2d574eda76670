package dev.quicfleet.proxy;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One connection to an {@code h2c://} or {@code https://} upstream on one event loop. While it connects (and for TLS
 * shakes hands) exchanges wait on it; then each gets a stream ({@link Http2UpstreamStream}). It takes new streams
 * while fewer are open than the upstream's {@code SETTINGS_MAX_CONCURRENT_STREAMS} (100 until its SETTINGS arrive,
 * the minimum RFC 9113 §6.5.2 recommends) and it has not received GOAWAY; without streams it is closed after the
 * keep-alive timeout.
 *
 * <p>The parent channel reads freely: what it reads for a stream is held in that stream's channel, bounded by the
 * stream's receive window ({@link #STREAM_WINDOW}), until the stream's call asks for it.
 */
final class Http2UpstreamConnection extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(Http2UpstreamConnection.class);

    /** Streams a connection takes before the upstream's SETTINGS say how many it allows. */
    static final int DEFAULT_MAX_STREAMS = 100;
    /** Each stream's receive window: what one stream may hold while its client is slow. */
    static final int STREAM_WINDOW = 1 << 20;
    /** The connection's receive window, shared by its streams. */
    static final int CONNECTION_WINDOW = 16 << 20;

    private final Http2Upstreams owner;
    private final Upstream upstream;
    private final ProxyConfig config;
    private Channel channel;
    private Http2FrameCodec codec;
    /** Exchanges waiting for the connection to be ready. */
    private List<BiConsumer<UpstreamConnection, Throwable>> waiting = new ArrayList<>(4);
    private boolean ready;
    private boolean closed;
    private boolean goAway;
    private int streams;
    private int completed;
    private ScheduledFuture<?> idleTimer;

    Http2UpstreamConnection(Http2Upstreams owner, Upstream upstream) {
        this.owner = owner;
        this.upstream = upstream;
        this.config = owner.pool().config();
    }

    Upstream upstream() {
        return upstream;
    }

    /** Whether a new exchange may get a stream here. */
    boolean hasRoom() {
        if (closed || goAway) {
            return false;
        }
        int max = DEFAULT_MAX_STREAMS;
        if (ready && codec != null) {
            max = (int) Math.min(codec.connection().local().maxActiveStreams(), Integer.MAX_VALUE);
        }
        return streams + (waiting == null ? 0 : waiting.size()) < max;
    }

    void connect(Bootstrap bootstrap) {
        ChannelFuture connect = bootstrap.handler(new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                if (upstream.tls) {
                    ch.pipeline().addLast("tls", UpstreamTls.handler(owner.tls(), config, upstream, ch.alloc()));
                    ch.config().setAutoRead(true); // the handshake reads; set back for HTTP/1.1
                } else {
                    addHttp2(ch.pipeline());
                }
            }
        }).connect(upstream.address);
        channel = connect.channel();
        owner.pool().opened(channel);
        channel.closeFuture().addListener(f -> closed());
        connect.addListener(f -> {
            if (!f.isSuccess()) {
                failed(f.cause());
            } else if (!upstream.tls) {
                channel.config().setAutoRead(true);
                established();
            } else {
                channel.pipeline().get(SslHandler.class).handshakeFuture().addListener(h -> {
                    if (!h.isSuccess()) {
                        failed(h.cause());
                    } else if (ApplicationProtocolNames.HTTP_2.equals(
                            channel.pipeline().get(SslHandler.class).applicationProtocol())) {
                        addHttp2(channel.pipeline());
                        established();
                    } else {
                        http1();
                    }
                });
            }
        });
    }

    private void addHttp2(ChannelPipeline pipeline) {
        codec = Http2FrameCodecBuilder.forClient()
                .initialSettings(Http2Settings.defaultSettings()
                        .pushEnabled(false)
                        .initialWindowSize(STREAM_WINDOW)
                        .maxHeaderListSize(UpstreamConnection.MAX_HEADER_SIZE))
                .validateHeaders(false)
                .build();
        pipeline.addLast("h2", codec);
        pipeline.addLast("streams", new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()));
        pipeline.addLast("connection", this);
    }

    private void established() {
        upstream.connected();
        ready = true;
        try {
            codec.connection().local().flowController().incrementWindowSize(codec.connection().connectionStream(),
                    CONNECTION_WINDOW - Http2CodecUtil.DEFAULT_WINDOW_SIZE);
            channel.flush();
        } catch (Http2Exception e) {
            log.debug("upstream {}: cannot widen the connection window: {}", upstream, e.toString());
        }
        List<BiConsumer<UpstreamConnection, Throwable>> queue = waiting;
        waiting = null;
        for (BiConsumer<UpstreamConnection, Throwable> onDone : queue) {
            openStream(onDone);
        }
        idleCheck();
    }

    /** ALPN chose HTTP/1.1: this connection serves the first waiting exchange; the others connect anew. */
    private void http1() {
        upstream.connected();
        closed = true; // as a multiplexed connection
        owner.removed(this);
        channel.config().setAutoRead(false);
        List<BiConsumer<UpstreamConnection, Throwable>> queue = waiting;
        waiting = null;
        UpstreamConnection connection = new UpstreamConnection(owner.pool(), upstream);
        channel.pipeline().addLast("connection", connection);
        queue.get(0).accept(connection, null);
        for (int i = 1; i < queue.size(); i++) {
            owner.pool().acquire(upstream, queue.get(i));
        }
    }

    private void failed(Throwable cause) {
        if (waiting == null) {
            return; // already decided: the handshake's failure and the channel's closing may both report it
        }
        upstream.connectFailed(cause);
        closed = true;
        owner.removed(this);
        List<BiConsumer<UpstreamConnection, Throwable>> queue = waiting;
        waiting = null;
        channel.close();
        if (queue != null) {
            for (BiConsumer<UpstreamConnection, Throwable> onDone : queue) {
                onDone.accept(null, cause);
            }
        }
    }

    /** Opens a stream for {@code onDone} now, or once the connection is ready. */
    void openStream(BiConsumer<UpstreamConnection, Throwable> onDone) {
        if (waiting != null) {
            waiting.add(onDone);
            return;
        }
        if (closed || goAway) {
            owner.pool().acquire(upstream, onDone); // it went away meanwhile: another connection
            return;
        }
        Http2UpstreamStream stream = new Http2UpstreamStream(owner.pool(), upstream, completed > 0);
        streams++;
        cancelIdleTimer();
        new Http2StreamChannelBootstrap(channel)
                .option(ChannelOption.AUTO_READ, false)
                .handler(stream)
                .open()
                .addListener(f -> {
                    if (f.isSuccess()) {
                        Channel streamChannel = stream.channel();
                        streamChannel.closeFuture().addListener(c -> streamClosed());
                        onDone.accept(stream, null);
                    } else {
                        streamClosed();
                        onDone.accept(null, f.cause());
                    }
                });
    }

    private void streamClosed() {
        streams--;
        completed++;
        if (streams == 0) {
            if (goAway) {
                channel.close(); // drained
            } else {
                idleCheck();
            }
        }
    }

    private void idleCheck() {
        if (streams == 0 && !closed && idleTimer == null) {
            idleTimer = channel.eventLoop().schedule(() -> {
                idleTimer = null;
                if (streams == 0) {
                    channel.close();
                }
            }, config.keepAliveTimeout().toNanos(), TimeUnit.NANOSECONDS);
        }
    }

    private void cancelIdleTimer() {
        if (idleTimer != null) {
            idleTimer.cancel(false);
            idleTimer = null;
        }
    }

    void closeIfIdle() {
        if (streams == 0 && waiting == null) {
            channel.close();
        }
    }

    private void closed() {
        if (!closed) {
            closed = true;
            owner.removed(this);
        }
        cancelIdleTimer();
        failed(new IOException("upstream " + upstream + " closed the connection"));
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof Http2GoAwayFrame frame) {
            // Streams above its last stream id are closed by the multiplexer; the rest finish, then it closes.
            log.debug("upstream {} sent GOAWAY ({}): no new streams on this connection", upstream, frame.errorCode());
            goAway = true;
            owner.removed(this);
            if (streams == 0) {
                ctx.close();
            }
        }
        // SETTINGS: the local endpoint's maxActiveStreams follows them, and hasRoom() reads it.
        ReferenceCountUtil.release(msg);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("upstream {}: HTTP/2 connection failed: {}", upstream, cause.toString());
        ctx.close();
    }
}
