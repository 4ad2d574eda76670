package dev.quicfleet.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.DatagramPacket;
import io.netty.channel.unix.Socket;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class ListenersTest {

    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    private EventLoopGroup group;

    @AfterEach
    void shutDown() {
        if (group != null) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void twoReusePortUdpSocketsShareOnePort(Transport transport) {
        assumeTrue(transport.isAvailable(), transport + " not available");
        group = transport.newEventLoopGroup(1, Thread.ofPlatform().daemon().factory());
        DatagramChannel first = Listeners.bindUdp(transport, group, new InetSocketAddress(LOOPBACK, 0), true,
                1 << 20, new ChannelInboundHandlerAdapter());
        int port = first.localAddress().getPort();
        DatagramChannel second = Listeners.bindUdp(transport, group, new InetSocketAddress(LOOPBACK, port), true,
                1 << 20, new ChannelInboundHandlerAdapter());
        assertThat(second.localAddress().getPort()).isEqualTo(port);
        first.close().syncUninterruptibly();
        second.close().syncUninterruptibly();
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void bindingATakenPortFailsWithTheAddressAndTheFix(Transport transport) throws Exception {
        assumeTrue(transport.isAvailable(), transport + " not available");
        group = transport.newEventLoopGroup(1, Thread.ofPlatform().daemon().factory());
        try (DatagramSocket taken = new DatagramSocket(new InetSocketAddress(LOOPBACK, 0))) {
            int port = taken.getLocalPort();
            assertThatThrownBy(() -> Listeners.bindUdp(transport, group, new InetSocketAddress(LOOPBACK, port), false,
                    1 << 20, new ChannelInboundHandlerAdapter()))
                    .isInstanceOf(ListenerException.class)
                    .hasMessage("failed to bind UDP 127.0.0.1:" + port + ": address already in use (another process "
                            + "holds this port: stop it or choose another --port)");
        }
    }

    @ParameterizedTest
    @EnumSource(value = Transport.class, names = {"IO_URING", "EPOLL"})
    void adoptedUdpSocketReceivesDatagrams(Transport transport) throws Exception {
        assumeTrue(transport.isAvailable(), transport + " not available");
        group = transport.newEventLoopGroup(1, Thread.ofPlatform().daemon().factory());
        // Someone else (the supervisor) creates and binds the socket; the worker only gets the fd number.
        Socket socket = Socket.newSocketDgram();
        socket.setReusePort(true);
        socket.bind(new InetSocketAddress(LOOPBACK, 0));
        int port = ((InetSocketAddress) socket.localAddress()).getPort();

        BlockingQueue<String> received = new LinkedBlockingQueue<>();
        DatagramChannel adopted = Listeners.adoptUdp(transport, group, socket.intValue(), 1 << 20,
                new SimpleChannelInboundHandler<DatagramPacket>() {
                    @Override
                    protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket packet) {
                        received.add(packet.content().toString(StandardCharsets.UTF_8));
                    }
                });
        assertThat(adopted.localAddress().getPort()).isEqualTo(port);
        try (DatagramSocket client = new DatagramSocket(new InetSocketAddress(LOOPBACK, 0))) {
            byte[] hello = "hello adopted socket".getBytes(StandardCharsets.UTF_8);
            client.send(new java.net.DatagramPacket(hello, hello.length, new InetSocketAddress(LOOPBACK, port)));
        }
        assertThat(received.poll(5, TimeUnit.SECONDS)).isEqualTo("hello adopted socket");
        adopted.close().syncUninterruptibly();
    }

    @ParameterizedTest
    @EnumSource(value = Transport.class, names = {"EPOLL"})
    void adoptedTcpListenerAcceptsConnections(Transport transport) throws Exception {
        assumeTrue(transport.isAvailable(), transport + " not available");
        group = transport.newEventLoopGroup(1, Thread.ofPlatform().daemon().factory());
        Socket socket = Socket.newSocketStream();
        socket.bind(new InetSocketAddress(LOOPBACK, 0));
        socket.listen(16);
        int port = ((InetSocketAddress) socket.localAddress()).getPort();
        BlockingQueue<Boolean> accepted = new LinkedBlockingQueue<>();
        var listener = Listeners.adoptTcp(transport, group, socket.intValue(), 16, new ChannelInboundHandlerAdapter() {
            @Override
            public void channelActive(ChannelHandlerContext ctx) {
                accepted.add(true);
                ctx.close();
            }
        });
        try (java.net.Socket client = new java.net.Socket(LOOPBACK, port)) {
            assertThat(accepted.poll(5, TimeUnit.SECONDS)).isTrue();
        }
        listener.close().syncUninterruptibly();
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void bindsTcpOnTheSamePortNumberAsUdp(Transport transport) {
        assumeTrue(transport.isAvailable(), transport + " not available");
        group = transport.newEventLoopGroup(1, Thread.ofPlatform().daemon().factory());
        // The kernel picks a free UDP port; the same number may be taken on TCP by another process: try a few.
        for (int attempt = 1; ; attempt++) {
            DatagramChannel udp = Listeners.bindUdp(transport, group, new InetSocketAddress(LOOPBACK, 0), false,
                    1 << 20, new ChannelInboundHandlerAdapter());
            int port = udp.localAddress().getPort();
            try {
                var tcp = Listeners.bindTcp(transport, group, new InetSocketAddress(LOOPBACK, port), false, 16,
                        new ChannelInboundHandlerAdapter());
                assertThat(tcp.localAddress().getPort()).isEqualTo(port);
                tcp.close().syncUninterruptibly();
                return;
            } catch (ListenerException e) {
                if (attempt == 5 || !e.getMessage().contains("address already in use")) {
                    throw e;
                }
            } finally {
                udp.close().syncUninterruptibly();
            }
        }
    }
}
