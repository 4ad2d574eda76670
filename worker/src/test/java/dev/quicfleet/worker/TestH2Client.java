package dev.quicfleet.worker;

import dev.quicfleet.http.Protocol;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2ChannelDuplexHandler;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamFrame;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.util.ReferenceCountUtil;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A small Netty HTTP/2 client for in-process tests: it never sends WINDOW_UPDATE (Netty's frame codec leaves that to
 * the application), so a stream stops reading once the server has filled its 64 KiB window; and it shows the
 * RST_STREAM frames the server sends.
 */
final class TestH2Client implements AutoCloseable {

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Http2FrameCodec codec;
    private final Map<Http2FrameStream, Stream> streams = new ConcurrentHashMap<>();
    private final Recorder recorder = new Recorder();
    private final Channel channel;

    /** A response as it arrives. */
    static final class Stream {
        final CompletableFuture<String> status = new CompletableFuture<>();
        final AtomicLong bodyBytes = new AtomicLong();
        /** Completes with the error code of a RST_STREAM from the server. */
        final CompletableFuture<Long> reset = new CompletableFuture<>();
    }

    /** Connects over TLS (ALPN h2) to 127.0.0.1:{@code port}, trusting the certificate in {@code certPem}. */
    TestH2Client(int port, Path certPem) throws Exception {
        this(port, certPem, 65_535);
    }

    /** As {@link #TestH2Client(int, Path)}, granting the server {@code window} bytes per stream and connection. */
    TestH2Client(int port, Path certPem, int window) throws Exception {
        codec = Http2FrameCodecBuilder.forClient()
                .initialSettings(Http2Settings.defaultSettings().initialWindowSize(window))
                .build();
        SslContext ssl = SslContextBuilder.forClient()
                .trustManager(certPem.toFile())
                .applicationProtocolConfig(new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
                        ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                        ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                        ApplicationProtocolNames.HTTP_2))
                .build();
        channel = new Bootstrap().group(group).channel(NioSocketChannel.class)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(ssl.newHandler(ch.alloc(), "localhost", port), codec, recorder);
                    }
                })
                .connect(InetAddress.getLoopbackAddress(), port).sync().channel();
        if (window > 65_535) {
            channel.eventLoop().submit(() -> {
                codec.connection().local().flowController().incrementWindowSize(
                        codec.connection().connectionStream(), window - 65_535);
                channel.flush();
                return null;
            }).sync();
        }
    }

    /** Sends a GET for {@code path} (no body). */
    Stream get(String path) throws Exception {
        Http2FrameStream id = recorder.newStream();
        Stream stream = new Stream();
        streams.put(id, stream);
        DefaultHttp2Headers headers = new DefaultHttp2Headers();
        headers.method("GET").path(path).scheme("https").authority("localhost");
        channel.writeAndFlush(new DefaultHttp2HeadersFrame(headers, true).stream(id)).sync();
        return stream;
    }

    private final class Recorder extends Http2ChannelDuplexHandler {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                Stream stream = msg instanceof Http2StreamFrame frame && frame.stream() != null
                        ? streams.get(frame.stream()) : null;
                if (stream == null) {
                    return;
                }
                if (msg instanceof Http2HeadersFrame headers && headers.headers().status() != null) {
                    stream.status.complete(headers.headers().status().toString());
                } else if (msg instanceof Http2DataFrame data) {
                    stream.bodyBytes.addAndGet(data.content().readableBytes());
                } else if (msg instanceof Http2ResetFrame reset) {
                    stream.reset.complete(reset.errorCode());
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }
    }

    /**
     * Resets the TCP connection (SO_LINGER 0), from below TLS and HTTP/2: no close_notify, no GOAWAY, as a client
     * that crashed or a middlebox would.
     */
    void reset() {
        channel.config().setOption(ChannelOption.SO_LINGER, 0);
        channel.pipeline().firstContext().close().awaitUninterruptibly(5, TimeUnit.SECONDS);
    }

    @Override
    public void close() {
        try {
            channel.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
    }
}
