package dev.quicfleet.worker;

import dev.quicfleet.transport.ControlProtocol;
import dev.quicfleet.transport.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.channel.unix.DomainSocketReadMode;
import io.netty.channel.unix.FileDescriptor;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.string.StringDecoder;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.Future;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;
import java.util.function.Supplier;
import org.slf4j.LoggerFactory;

/**
 * The worker's end of the supervisor's control socket ({@link ControlProtocol}): says hello, receives the slot's
 * sockets as file descriptors, reports ready or failed, and stays connected so that a dead supervisor is noticed at
 * once (the kernel closes the socket, {@link #closeFuture()} completes).
 */
final class SupervisorLink implements AutoCloseable {

    private final EventLoopGroup group;
    private final Channel channel;
    private final int udpFd;
    private final int tcpFd;

    private SupervisorLink(EventLoopGroup group, Channel channel, int udpFd, int tcpFd) {
        this.group = group;
        this.channel = channel;
        this.udpFd = udpFd;
        this.tcpFd = tcpFd;
    }

    /**
     * Connects to the supervisor at {@code socket}, announces {@code slot} and waits (up to {@code timeout}) for the
     * slot's UDP and TCP sockets.
     *
     * @throws IOException naming the socket when the supervisor cannot be reached or sends no sockets in time
     */
    static SupervisorLink connect(Path socket, int slot, Duration timeout) throws IOException {
        if (!Epoll.isAvailable()) {
            throw new IOException("the supervisor's control socket needs epoll (Linux): "
                    + Epoll.unavailabilityCause().getMessage());
        }
        BlockingQueue<FileDescriptor> received = new LinkedBlockingQueue<>();
        EventLoopGroup group = Transport.EPOLL.newEventLoopGroup(1,
                new DefaultThreadFactory("quicfleet-link-" + slot, true));
        try {
            ChannelFuture connect = new Bootstrap().group(group).channel(EpollDomainSocketChannel.class)
                    .option(EpollChannelOption.DOMAIN_SOCKET_READ_MODE, DomainSocketReadMode.FILE_DESCRIPTORS)
                    .handler(new ChannelInboundHandlerAdapter() {
                        @Override
                        public void channelRead(ChannelHandlerContext ctx, Object msg) {
                            if (msg instanceof FileDescriptor fd) {
                                received.add(fd);
                            } else {
                                ctx.fireChannelRead(msg); // lines, once serveScrapes() switched to bytes
                            }
                        }
                    })
                    .connect(new DomainSocketAddress(socket.toFile()));
            if (!connect.awaitUninterruptibly(timeout.toMillis()) || !connect.isSuccess()) {
                throw new IOException("cannot reach the supervisor at " + socket + ": "
                        + (connect.cause() == null ? "timed out" : connect.cause().getMessage()));
            }
            Channel channel = connect.channel();
            send(channel, ControlProtocol.hello(slot, ProcessHandle.current().pid()));
            FileDescriptor udp = received.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
            FileDescriptor tcp = udp == null ? null : received.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (udp == null || tcp == null) {
                channel.close();
                throw new IOException("the supervisor at " + socket + " sent no sockets for slot " + slot + " within "
                        + timeout.toSeconds() + "s");
            }
            return new SupervisorLink(group, channel, udp.intValue(), tcp.intValue());
        } catch (IOException | RuntimeException e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw e;
        } catch (InterruptedException e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for the supervisor", e);
        }
    }

    /** The slot's UDP socket (bound by the supervisor). */
    int udpFd() {
        return udpFd;
    }

    /** The slot's TCP listening socket (bound by the supervisor). */
    int tcpFd() {
        return tcpFd;
    }

    /**
     * Answers the supervisor's {@code scrape} requests with {@code exposition}, passes {@code handover <port>} to
     * {@code handover} and runs {@code reopen} on {@code reopen}, from now on. The link leaves file-descriptor mode
     * (both sockets arrived) and reads lines.
     */
    void serveScrapes(Supplier<String> exposition, IntConsumer handover, Runnable reopen) {
        channel.eventLoop().execute(() -> {
            channel.config().setOption(EpollChannelOption.DOMAIN_SOCKET_READ_MODE, DomainSocketReadMode.BYTES);
            channel.pipeline().addLast(new LineBasedFrameDecoder(ControlProtocol.MAX_LINE),
                    new StringDecoder(StandardCharsets.UTF_8),
                    new SimpleChannelInboundHandler<String>() {
                        @Override
                        protected void channelRead0(ChannelHandlerContext ctx, String line) {
                            if (line.strip().equals(ControlProtocol.SCRAPE)) {
                                String body = Base64.getEncoder().encodeToString(
                                        exposition.get().getBytes(StandardCharsets.UTF_8));
                                send(ctx.channel(), ControlProtocol.SCRAPE + " " + body);
                            } else if (line.strip().equals(ControlProtocol.REOPEN)) {
                                reopen.run();
                            } else if (line.startsWith(ControlProtocol.HANDOVER + " ")) {
                                try {
                                    handover.accept(ControlProtocol.parse(line).intArg(0));
                                } catch (IllegalArgumentException e) {
                                    LoggerFactory.getLogger(SupervisorLink.class)
                                            .warn("control socket: ignored {}", e.getMessage());
                                }
                            }
                        }
                    });
        });
    }

    void ready(int port, String transport, int handoverPort) {
        send(channel, ControlProtocol.ready(port, transport, handoverPort)).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }

    void failed(int exitCode, String message) {
        send(channel, ControlProtocol.failed(exitCode, message)).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }

    /** Completes when the supervisor's end is gone. */
    Future<Void> closeFuture() {
        return channel.closeFuture();
    }

    private static ChannelFuture send(Channel channel, String line) {
        return channel.writeAndFlush(Unpooled.copiedBuffer(line + "\n", StandardCharsets.UTF_8));
    }

    @Override
    public void close() {
        channel.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(2, TimeUnit.SECONDS);
    }
}
