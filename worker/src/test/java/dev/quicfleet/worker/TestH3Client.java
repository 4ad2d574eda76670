package dev.quicfleet.worker;

import dev.quicfleet.worker.protocol.Exchange;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.handler.codec.http3.DefaultHttp3HeadersFrame;
import io.netty.handler.codec.http3.Http3;
import io.netty.handler.codec.http3.Http3ClientConnectionHandler;
import io.netty.handler.codec.http3.Http3DataFrame;
import io.netty.handler.codec.http3.Http3GoAwayFrame;
import io.netty.handler.codec.http3.Http3Headers;
import io.netty.handler.codec.http3.Http3HeadersFrame;
import io.netty.handler.codec.http3.Http3RequestStreamInboundHandler;
import io.netty.handler.codec.quic.QuicChannel;
import io.netty.handler.codec.quic.QuicConnectionCloseEvent;
import io.netty.handler.codec.quic.QuicSslContext;
import io.netty.handler.codec.quic.QuicSslContextBuilder;
import io.netty.handler.codec.quic.QuicStreamChannel;
import io.netty.util.ReferenceCountUtil;
import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A small Netty HTTP/3 client for in-process tests that need what the ngtcp2 CLI cannot give: a stream that stops
 * reading on command, and the response's header and trailer frames as objects.
 */
final class TestH3Client implements AutoCloseable {

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Channel udp;
    private final QuicChannel quic;
    private final CompletableFuture<Long> goAway = new CompletableFuture<>();
    private final CompletableFuture<QuicConnectionCloseEvent> peerClose = new CompletableFuture<>();

    /** A response as it arrives: header frames (the first is the head, a later one the trailers), body size. */
    static final class Exchange {
        final List<Http3Headers> headerFrames = new CopyOnWriteArrayList<>();
        final AtomicLong bodyBytes = new AtomicLong();
        final CompletableFuture<Void> done = new CompletableFuture<>();
        /** The body's bytes, when the request asked to keep them ({@link #get(String, String, String)}). */
        final ByteArrayOutputStream body = new ByteArrayOutputStream();
        boolean keepBody;
        QuicStreamChannel stream;
    }

    /** Connects to 127.0.0.1:{@code port}, trusting {@code cert}, granting the server {@code streamWindow} bytes. */
    TestH3Client(int port, X509Certificate cert, long streamWindow) throws Exception {
        QuicSslContext ssl = QuicSslContextBuilder.forClient()
                .trustManager(cert)
                .applicationProtocols(Http3.supportedApplicationProtocols())
                .build();
        udp = new Bootstrap().group(group).channel(NioDatagramChannel.class)
                .handler(Http3.newQuicClientCodecBuilder()
                        // Netty's client checks the host name; the engine must know it (and the session cache key)
                        .sslEngineProvider(q -> ssl.newEngine(q.alloc(), "localhost", port))
                        .maxIdleTimeout(30, TimeUnit.SECONDS)
                        .initialMaxData(Math.max(4L << 20, streamWindow))
                        .initialMaxStreamDataBidirectionalLocal(streamWindow)
                        .build())
                .bind(0).sync().channel();
        quic = QuicChannel.newBootstrap(udp)
                .handler(new ChannelInitializer<QuicChannel>() {
                    @Override
                    protected void initChannel(QuicChannel ch) {
                        // Netty's default handler, plus what the server's control stream and its close say.
                        ch.pipeline().addLast(new Http3ClientConnectionHandler(new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                if (msg instanceof Http3GoAwayFrame frame) {
                                    goAway.complete(frame.id());
                                }
                                ReferenceCountUtil.release(msg);
                            }
                        }, null, null, null, true), new ChannelInboundHandlerAdapter() {
                            @Override
                            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                                if (evt instanceof QuicConnectionCloseEvent close) {
                                    peerClose.complete(close);
                                }
                                ctx.fireUserEventTriggered(evt);
                            }
                        });
                    }
                })
                .remoteAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), port))
                .connect().get(10, TimeUnit.SECONDS);
    }

    /** Sends a GET for {@code path}; the stream's auto-read is {@code autoRead}. */
    Exchange get(String path, boolean autoRead) throws Exception {
        Exchange exchange = open(autoRead);
        Http3HeadersFrame request = new DefaultHttp3HeadersFrame();
        request.headers().method("GET").path(path).authority("localhost").scheme("https");
        exchange.stream.writeAndFlush(request).addListener(QuicStreamChannel.SHUTDOWN_OUTPUT).sync();
        return exchange;
    }

    /** Sends a GET for {@code path} with one more request header, and keeps the response body. */
    Exchange get(String path, String header, String value) throws Exception {
        Exchange exchange = open(true);
        exchange.keepBody = true;
        Http3HeadersFrame request = new DefaultHttp3HeadersFrame();
        request.headers().method("GET").path(path).authority("localhost").scheme("https").set(header, value);
        exchange.stream.writeAndFlush(request).addListener(QuicStreamChannel.SHUTDOWN_OUTPUT).sync();
        return exchange;
    }

    /**
     * Sends the head of a POST for {@code path} announcing {@code contentLength} body bytes and leaves the request
     * open: the caller writes DATA frames on {@link Exchange#stream} (or withholds them).
     */
    Exchange startPost(String path, long contentLength) throws Exception {
        Exchange exchange = open(true);
        Http3HeadersFrame request = new DefaultHttp3HeadersFrame();
        request.headers().method("POST").path(path).authority("localhost").scheme("https")
                .set("content-length", Long.toString(contentLength));
        exchange.stream.writeAndFlush(request).sync();
        return exchange;
    }

    private Exchange open(boolean autoRead) throws Exception {
        Exchange exchange = new Exchange();
        exchange.stream = Http3.newRequestStream(quic, new Http3RequestStreamInboundHandler() {
            @Override
            protected void channelRead(ChannelHandlerContext ctx, Http3HeadersFrame frame) {
                exchange.headerFrames.add(frame.headers());
            }

            @Override
            protected void channelRead(ChannelHandlerContext ctx, Http3DataFrame frame) {
                exchange.bodyBytes.addAndGet(frame.content().readableBytes());
                if (exchange.keepBody) {
                    byte[] bytes = new byte[frame.content().readableBytes()];
                    frame.content().readBytes(bytes);
                    exchange.body.writeBytes(bytes);
                }
                frame.release();
            }

            @Override
            protected void channelInputClosed(ChannelHandlerContext ctx) {
                exchange.done.complete(null);
            }
        }).get(10, TimeUnit.SECONDS);
        exchange.stream.config().setAutoRead(autoRead);
        return exchange;
    }

    /** Completes with the stream id of the server's first GOAWAY frame. */
    CompletableFuture<Long> goAway() {
        return goAway;
    }

    /** Completes when the server closes the connection (its CONNECTION_CLOSE: error code, reason). */
    CompletableFuture<QuicConnectionCloseEvent> peerClose() {
        return peerClose;
    }

    /** Lets a stream opened with auto-read off read again. */
    static void resume(Exchange exchange) {
        exchange.stream.config().setAutoRead(true);
        exchange.stream.read();
    }

    @Override
    public void close() {
        try {
            quic.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
            udp.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
    }
}
