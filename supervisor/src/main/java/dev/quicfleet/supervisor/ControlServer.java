package dev.quicfleet.supervisor;

import dev.quicfleet.transport.ControlProtocol;
import dev.quicfleet.transport.Transport;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.channel.unix.FileDescriptor;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.string.StringDecoder;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Base64;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The supervisor's control socket ({@link ControlProtocol}): workers say hello and get their sockets, report ready
 * or failed; tools ask for the status. Every message becomes an event for the supervisor's single control loop; this
 * class keeps no state of its own.
 */
final class ControlServer implements AutoCloseable {

    /** What arrives on the socket, handed to the control loop. */
    sealed interface Message {
        /** A worker process announced itself; {@code peerPid} is what the kernel says, not what it claims. */
        record Hello(int slot, long claimedPid, long peerPid, Channel channel) implements Message {
        }

        record Ready(long pid, int port, String transport, int handoverPort, Channel channel) implements Message {
        }

        record Failed(long pid, int exitCode, String message) implements Message {
        }

        record Status(Channel channel) implements Message {
        }
    }

    private final Path path;
    private final EventLoopGroup group;
    private final Channel server;

    private ControlServer(Path path, EventLoopGroup group, Channel server) {
        this.path = path;
        this.group = group;
        this.server = server;
    }

    /**
     * Listens on {@code path} (in a 0700 directory). A socket file left by a dead supervisor is replaced; one that a
     * running supervisor answers on is not.
     *
     * @throws IOException naming the path when another supervisor runs there or the directory is unusable
     */
    static ControlServer listen(Path path, Consumer<Message> sink) throws IOException {
        Path dir = path.toAbsolutePath().getParent();
        Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        if (Files.exists(path)) {
            if (answers(path)) {
                throw new IOException("another supervisor is running on control socket " + path
                        + " (stop it first, or choose another --port)");
            }
            Files.delete(path);
        }
        EventLoopGroup group = Transport.EPOLL.newEventLoopGroup(1, new DefaultThreadFactory("quicfleet-control",
                true));
        ChannelFuture bind = new ServerBootstrap().group(group).channel(EpollServerDomainSocketChannel.class)
                .childHandler(new ChannelInitializer<EpollDomainSocketChannel>() {
                    @Override
                    protected void initChannel(EpollDomainSocketChannel ch) {
                        ch.pipeline().addLast(new LineBasedFrameDecoder(ControlProtocol.MAX_SCRAPE_LINE),
                                new StringDecoder(StandardCharsets.UTF_8), new LineHandler(sink));
                    }
                })
                .bind(new DomainSocketAddress(path.toFile()));
        if (!bind.awaitUninterruptibly(5, TimeUnit.SECONDS) || !bind.isSuccess()) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw new IOException("cannot listen on control socket " + path + ": " + bind.cause());
        }
        return new ControlServer(path, group, bind.channel());
    }

    Path path() {
        return path;
    }

    /** Tells a worker to share its slot with the worker whose hand-over link is on {@code port} (0: no more). */
    static ChannelFuture handover(Channel worker, int port) {
        return worker.writeAndFlush(Unpooled.copiedBuffer(ControlProtocol.handover(port) + "\n",
                StandardCharsets.UTF_8));
    }

    /** Tells a worker to reopen its access log. */
    static void reopen(Channel worker) {
        worker.writeAndFlush(Unpooled.copiedBuffer(ControlProtocol.REOPEN + "\n", StandardCharsets.UTF_8));
    }

    /** Sends a slot's UDP and TCP sockets to a worker (SCM_RIGHTS; the kernel gives the worker its own copies). */

    static void sendSockets(Channel worker, int udpFd, int tcpFd) {
        worker.write(new FileDescriptor(udpFd));
        worker.writeAndFlush(new FileDescriptor(tcpFd));
    }

    private static final AttributeKey<Queue<CompletableFuture<String>>> SCRAPES =
            AttributeKey.valueOf("quicfleet.scrapes");

    private static Queue<CompletableFuture<String>> pendingScrapes(Channel channel) {
        Queue<CompletableFuture<String>> queue = channel.attr(SCRAPES).get();
        if (queue == null) {
            Queue<CompletableFuture<String>> created = new ConcurrentLinkedQueue<>();
            queue = channel.attr(SCRAPES).setIfAbsent(created);
            if (queue == null) {
                queue = created;
            }
        }
        return queue;
    }

    /**
     * Asks a worker for its metrics; the answer comes back on the same connection, in order. The future fails when
     * the worker's connection closes first.
     */
    static CompletableFuture<String> requestScrape(Channel worker) {
        CompletableFuture<String> answer = new CompletableFuture<>();
        if (!worker.isActive()) {
            answer.completeExceptionally(new IOException("worker connection closed"));
            return answer;
        }
        pendingScrapes(worker).add(answer);
        worker.closeFuture().addListener(f -> answer.completeExceptionally(new IOException("worker connection closed")));
        worker.writeAndFlush(Unpooled.copiedBuffer(ControlProtocol.SCRAPE + "\n", StandardCharsets.UTF_8));
        return answer;
    }

    /** Writes {@code lines} then {@code end}, and closes. */
    static void reply(Channel channel, List<String> lines) {
        StringBuilder text = new StringBuilder();
        lines.forEach(line -> text.append(line).append('\n'));
        text.append(ControlProtocol.END).append('\n');
        channel.writeAndFlush(Unpooled.copiedBuffer(text, StandardCharsets.UTF_8)).addListener(f -> channel.close());
    }

    private static boolean answers(Path path) {
        try (var channel = java.nio.channels.SocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            return channel.connect(java.net.UnixDomainSocketAddress.of(path));
        } catch (IOException e) {
            return false;
        }
    }

    @Override
    public void close() {
        server.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(3, TimeUnit.SECONDS);
        try {
            Files.deleteIfExists(path);
        } catch (IOException ignored) {
            // a stale socket file is replaced at the next start
        }
    }

    /** Parses lines into {@link Message}s; a malformed line closes that connection, never the server. */
    private static final class LineHandler extends SimpleChannelInboundHandler<String> {
        private final Consumer<Message> sink;
        private long helloPid = -1;

        LineHandler(Consumer<Message> sink) {
            this.sink = sink;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, String line) {
            ControlProtocol.Message message;
            try {
                message = ControlProtocol.parse(line);
                switch (message.verb()) {
                    case ControlProtocol.HELLO -> {
                        EpollDomainSocketChannel ch = (EpollDomainSocketChannel) ctx.channel();
                        long peer = ch.peerCredentials().pid();
                        helloPid = peer;
                        sink.accept(new Message.Hello(message.intArg(0), Long.parseLong(message.args().get(1)), peer,
                                ch));
                    }
                    case ControlProtocol.READY -> sink.accept(new Message.Ready(helloPid, message.intArg(0),
                            message.args().get(1), message.intArg(2), ctx.channel()));
                    case ControlProtocol.SCRAPE -> {
                        CompletableFuture<String> pending = pendingScrapes(ctx.channel()).poll();
                        if (pending != null && !message.args().isEmpty()) {
                            pending.complete(new String(Base64.getDecoder().decode(message.args().get(0)),
                                    StandardCharsets.UTF_8));
                        }
                    }
                    case ControlProtocol.FAILED -> sink.accept(new Message.Failed(helloPid, message.intArg(0),
                            message.args().get(1)));
                    case ControlProtocol.STATUS -> sink.accept(new Message.Status(ctx.channel()));
                    default -> ctx.close();
                }
            } catch (IOException | RuntimeException e) {
                ctx.close();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
