package dev.quicfleet.transport;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.ServerSocketChannel;
import java.net.InetSocketAddress;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * Opens the listening sockets of a worker: a UDP socket for QUIC and a TCP socket for HTTP/1.1 and HTTP/2 over TLS.
 * Each is either bound here or adopted from a file descriptor that someone else (the supervisor) bound, so the
 * kernel's {@code SO_REUSEPORT} group survives a worker restart unchanged.
 *
 * <p>These methods block until the socket is ready: call them at start-up, never on an event loop.
 */
public final class Listeners {

    private Listeners() {
    }

    /**
     * Binds a UDP socket on {@code address} with {@code SO_REUSEPORT} when {@code reusePort}.
     *
     * @throws ListenerException naming the address and the likely fix when the bind fails
     */
    public static DatagramChannel bindUdp(Transport transport, EventLoopGroup group, InetSocketAddress address,
                                          boolean reusePort, int socketBuffer, ChannelHandler handler) {
        Bootstrap bootstrap = udpBootstrap(transport::newDatagramChannel, group, socketBuffer, handler);
        if (reusePort) {
            bootstrap.option(transport.reusePortOption(), true);
        }
        return (DatagramChannel) await(bootstrap.bind(address), "bind UDP " + format(address));
    }

    /** Adopts an already bound UDP socket {@code fd} (native transports only). */
    public static DatagramChannel adoptUdp(Transport transport, EventLoopGroup group, int fd, int socketBuffer,
                                           ChannelHandler handler) {
        Bootstrap bootstrap = udpBootstrap(() -> transport.adoptDatagramChannel(fd), group, socketBuffer, handler);
        return (DatagramChannel) await(bootstrap.register(), "adopt UDP socket fd " + fd);
    }

    /**
     * Binds a TCP listening socket on {@code address}; accepted connections get {@code childHandler}.
     *
     * @throws ListenerException naming the address and the likely fix when the bind fails
     */
    public static ServerSocketChannel bindTcp(Transport transport, EventLoopGroup group, InetSocketAddress address,
                                              boolean reusePort, int backlog, ChannelHandler childHandler) {
        ServerBootstrap bootstrap = tcpBootstrap(transport::newServerSocketChannel, group, backlog, childHandler);
        if (reusePort) {
            bootstrap.option(transport.reusePortOption(), true);
        }
        return (ServerSocketChannel) await(bootstrap.bind(address), "bind TCP " + format(address));
    }

    /** Adopts an already listening TCP socket {@code fd} (native transports only). */
    public static ServerSocketChannel adoptTcp(Transport transport, EventLoopGroup group, int fd, int backlog,
                                               ChannelHandler childHandler) {
        ServerBootstrap bootstrap = tcpBootstrap(() -> transport.adoptServerSocketChannel(fd), group, backlog,
                childHandler);
        return (ServerSocketChannel) await(bootstrap.register(), "adopt TCP socket fd " + fd);
    }

    private static Bootstrap udpBootstrap(Supplier<DatagramChannel> factory, EventLoopGroup group, int socketBuffer,
                                          ChannelHandler handler) {
        return new Bootstrap()
                .group(group)
                .channelFactory(factory::get)
                .option(ChannelOption.SO_RCVBUF, socketBuffer)
                .option(ChannelOption.SO_SNDBUF, socketBuffer)
                .handler(handler);
    }

    private static ServerBootstrap tcpBootstrap(Supplier<ServerSocketChannel> factory, EventLoopGroup group,
                                                int backlog, ChannelHandler childHandler) {
        return new ServerBootstrap()
                .group(group)
                .channelFactory(factory::get)
                .option(ChannelOption.SO_BACKLOG, backlog)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(childHandler);
    }

    private static Channel await(ChannelFuture future, String what) {
        future.awaitUninterruptibly();
        if (!future.isSuccess()) {
            future.channel().close();
            Throwable cause = future.cause();
            throw new ListenerException("failed to " + what + ": " + describe(cause), cause);
        }
        return future.channel();
    }

    /** Turns the errno text of a failed bind into a message that says what to do. */
    static String describe(Throwable cause) {
        String message = String.valueOf(cause.getMessage());
        String lower = message.toLowerCase(Locale.ROOT);
        if (lower.contains("address already in use")) {
            return "address already in use (another process holds this port: stop it or choose another --port)";
        }
        if (lower.contains("permission denied")) {
            return "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE; choose a port >= 1024)";
        }
        if (lower.contains("cannot assign requested address")) {
            return "cannot assign requested address (no interface of this machine has that address: "
                    + "check --address)";
        }
        return message;
    }

    static String format(InetSocketAddress address) {
        String host = address.getAddress() != null ? address.getAddress().getHostAddress() : address.getHostString();
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + address.getPort();
    }
}
