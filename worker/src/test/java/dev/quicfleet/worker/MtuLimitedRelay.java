package dev.quicfleet.worker;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A UDP relay for one client over a path whose MTU is smaller than loopback's: datagrams with a payload larger than
 * {@code maxPayload} are dropped in both directions, silently, as a router on such a path drops them (IPv4 with DF,
 * or IPv6). Records the largest datagram the server got through and how many it lost to the limit.
 */
final class MtuLimitedRelay implements AutoCloseable {

    private static final int MAX_DATAGRAM = 65_535;

    private final InetSocketAddress server;
    private final int maxPayload;
    private final DatagramSocket front;
    private final DatagramSocket back;
    private final AtomicInteger largestFromServer = new AtomicInteger();
    private final AtomicLong droppedFromServer = new AtomicLong();
    private volatile SocketAddress client;
    private volatile boolean closed;

    private MtuLimitedRelay(InetSocketAddress server, int maxPayload) throws IOException {
        this.server = server;
        this.maxPayload = maxPayload;
        this.front = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        this.back = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        for (DatagramSocket socket : new DatagramSocket[] {front, back}) {
            socket.setReceiveBufferSize(4 << 20);
            socket.setSendBufferSize(4 << 20);
        }
        Thread.ofPlatform().daemon().name("mtu-relay-client").start(this::fromClient);
        Thread.ofPlatform().daemon().name("mtu-relay-server").start(this::fromServer);
    }

    /** A relay to {@code server} that passes UDP payloads of at most {@code maxPayload} bytes. */
    static MtuLimitedRelay start(InetSocketAddress server, int maxPayload) throws IOException {
        return new MtuLimitedRelay(server, maxPayload);
    }

    /** The port the client sends to, on the loopback address. */
    int port() {
        return front.getLocalPort();
    }

    /** The largest UDP payload from the server that got through. */
    int largestFromServer() {
        return largestFromServer.get();
    }

    /** Datagrams from the server dropped for their size. */
    long droppedFromServer() {
        return droppedFromServer.get();
    }

    private void fromClient() {
        byte[] buffer = new byte[MAX_DATAGRAM];
        while (!closed) {
            DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
            try {
                front.receive(packet);
                if (client == null) {
                    client = packet.getSocketAddress();
                }
                if (packet.getLength() <= maxPayload && client.equals(packet.getSocketAddress())) {
                    back.send(new DatagramPacket(packet.getData(), packet.getLength(), server));
                }
            } catch (IOException e) {
                if (closed) {
                    return;
                }
                // a send the kernel refused: lost, like on any path
            }
        }
    }

    private void fromServer() {
        byte[] buffer = new byte[MAX_DATAGRAM];
        while (!closed) {
            DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
            try {
                back.receive(packet);
                int length = packet.getLength();
                if (length > maxPayload) {
                    droppedFromServer.incrementAndGet();
                    continue;
                }
                largestFromServer.accumulateAndGet(length, Math::max);
                SocketAddress to = client;
                if (to != null) {
                    front.send(new DatagramPacket(packet.getData(), length, to));
                }
            } catch (IOException e) {
                if (closed) {
                    return;
                }
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        front.close();
        back.close();
    }
}
