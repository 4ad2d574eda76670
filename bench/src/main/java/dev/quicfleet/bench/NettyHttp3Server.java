package dev.quicfleet.bench;

import dev.quicfleet.transport.Listeners;
import dev.quicfleet.transport.QuicLimits;
import dev.quicfleet.transport.Transport;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.DatagramChannel;
import io.netty.handler.codec.http3.DefaultHttp3DataFrame;
import io.netty.handler.codec.http3.DefaultHttp3HeadersFrame;
import io.netty.handler.codec.http3.Http3;
import io.netty.handler.codec.http3.Http3DataFrame;
import io.netty.handler.codec.http3.Http3Headers;
import io.netty.handler.codec.http3.Http3HeadersFrame;
import io.netty.handler.codec.http3.Http3RequestStreamInboundHandler;
import io.netty.handler.codec.http3.Http3ServerConnectionHandler;
import io.netty.handler.codec.quic.QuicChannel;
import io.netty.handler.codec.quic.QuicSslContext;
import io.netty.handler.codec.quic.QuicSslContextBuilder;
import io.netty.handler.codec.quic.QuicStreamChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The reference server of {@code scripts/bench}: what Netty 4.2's HTTP/3 codec costs on its own, to compare a worker
 * with. One event loop answers {@code GET /static/NAME} with the bytes of one file, read into memory at start, from
 * the event loop that read the request (HEADERS and DATA written together, then FIN), and everything else with 404;
 * nothing else runs (no routing, metrics, TLS policy, early-data checks, access to the disk). It shares with a worker
 * only what makes the comparison fair: the transport choice (io_uring, then epoll), the QUIC limits, GSO and socket
 * buffers ({@link QuicLimits#defaults()}), and the certificate it is given. Not part of the product.
 *
 * <p>Prints {@code ready: netty-reference pid PID udp ADDRESS:PORT transport T} on stdout once it serves; stops on
 * SIGTERM.
 */
@Command(name = "netty-http3-reference", mixinStandardHelpOptions = true, sortOptions = false,
        description = "A bare Netty HTTP/3 server that serves one file from memory (benchmark reference).")
public final class NettyHttp3Server implements Callable<Integer> {

    @Option(names = "--address", paramLabel = "IP", defaultValue = "127.0.0.1",
            description = "Address to bind (default ${DEFAULT-VALUE}).")
    private String address;

    @Option(names = "--port", paramLabel = "PORT", defaultValue = "0",
            description = "UDP port; 0 picks a free one (default ${DEFAULT-VALUE}).")
    private int port;

    @Option(names = "--cert", paramLabel = "PEM", required = true, description = "Certificate chain (PEM).")
    private Path cert;

    @Option(names = "--key", paramLabel = "PEM", required = true, description = "Private key (PKCS#8 PEM).")
    private Path key;

    @Option(names = "--file", paramLabel = "FILE", required = true,
            description = "The file served at /static/<its name>, read into memory at start.")
    private Path file;

    @Option(names = "--transport", paramLabel = "NAME",
            description = "io_uring, epoll or nio (default: the best available, as a worker picks it).")
    private String transportName;

    /** Runs the server until SIGTERM; exit code 2 for bad arguments or a failed start. */
    public static void main(String[] args) {
        CommandLine cl = new CommandLine(new NettyHttp3Server());
        cl.setParameterExceptionHandler((e, a) -> {
            System.err.println("error: " + e.getMessage() + " (--help for the options)");
            return 2;
        });
        System.exit(cl.execute(args));
    }

    @Override
    public Integer call() throws InterruptedException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            System.err.println("error: cannot read --file " + file + ": " + e.getMessage());
            return 2;
        }
        Transport transport;
        try {
            transport = transportName == null ? Transport.best() : Transport.parse(transportName).require();
        } catch (RuntimeException e) {
            System.err.println("error: " + e.getMessage());
            return 2;
        }
        QuicSslContext ssl;
        try {
            ssl = QuicSslContextBuilder.forServer(key.toFile(), null, cert.toFile())
                    .applicationProtocols(Http3.supportedApplicationProtocols())
                    .build();
        } catch (RuntimeException e) {
            System.err.println("error: cannot use --cert " + cert + " / --key " + key + ": " + e.getMessage());
            return 2;
        }
        ByteBuf body = Unpooled.unreleasableBuffer(Unpooled.directBuffer(bytes.length).writeBytes(bytes));
        String path = "/static/" + file.getFileName();
        QuicLimits limits = QuicLimits.defaults();
        ChannelHandler codec = limits.applyTo(Http3.newQuicServerCodecBuilder(), transport)
                .sslContext(ssl)
                .tokenHandler(null)
                .handler(new ChannelInitializer<QuicChannel>() {
                    @Override
                    protected void initChannel(QuicChannel ch) {
                        ch.pipeline().addLast(new Http3ServerConnectionHandler(
                                new ChannelInitializer<QuicStreamChannel>() {
                                    @Override
                                    protected void initChannel(QuicStreamChannel stream) {
                                        stream.pipeline().addLast(new Request(path, body));
                                    }
                                }));
                    }
                })
                .build();
        EventLoopGroup group = transport.newEventLoopGroup(1, new DefaultThreadFactory("netty-h3-reference", true));
        CountDownLatch stopped = new CountDownLatch(1);
        try {
            DatagramChannel udp = Listeners.bindUdp(transport, group, new InetSocketAddress(address, port), false,
                    limits.udpSocketBuffer(), codec);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                udp.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
                group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(3, TimeUnit.SECONDS);
                stopped.countDown();
            }, "netty-h3-reference-stop"));
            InetSocketAddress bound = (InetSocketAddress) udp.localAddress();
            System.out.println("ready: netty-reference pid " + ProcessHandle.current().pid() + " udp "
                    + bound.getAddress().getHostAddress() + ":" + bound.getPort() + " transport " + transport.id());
            System.out.flush();
        } catch (RuntimeException e) {
            System.err.println("error: " + e.getMessage());
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            return 2;
        }
        stopped.await();
        return 0;
    }

    /** One request stream: answered when the request has ended. */
    private static final class Request extends Http3RequestStreamInboundHandler {
        private final String path;
        private final ByteBuf body;
        private boolean found;

        Request(String path, ByteBuf body) {
            this.path = path;
            this.body = body;
        }

        @Override
        protected void channelRead(ChannelHandlerContext ctx, Http3HeadersFrame frame) {
            Http3Headers h = frame.headers();
            found = h.method() != null && "GET".contentEquals(h.method()) && h.path() != null
                    && path.contentEquals(h.path());
        }

        @Override
        protected void channelRead(ChannelHandlerContext ctx, Http3DataFrame frame) {
            frame.release();
        }

        @Override
        protected void channelInputClosed(ChannelHandlerContext ctx) {
            Http3HeadersFrame head = new DefaultHttp3HeadersFrame();
            if (found) {
                head.headers().status("200").set("content-type", "application/octet-stream")
                        .setInt("content-length", body.readableBytes());
                ctx.write(head);
                ctx.writeAndFlush(new DefaultHttp3DataFrame(body.duplicate()))
                        .addListener(QuicStreamChannel.SHUTDOWN_OUTPUT);
            } else {
                head.headers().status("404").setInt("content-length", 0);
                ctx.writeAndFlush(head).addListener(QuicStreamChannel.SHUTDOWN_OUTPUT);
            }
        }
    }
}
