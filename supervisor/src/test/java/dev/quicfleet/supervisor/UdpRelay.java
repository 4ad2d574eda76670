package dev.quicfleet.supervisor;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A UDP relay on 127.0.0.1 between one QUIC client and the servers under test, for what a client cannot be told to
 * do: the client's datagrams go to {@code first} until a server answers (its first flight), then to {@code rest}, each
 * leg from a port of its own ({@link #split}); or the whole connection goes to one server from one port
 * ({@link #through}); or only the first flight goes out and nothing comes back ({@link #blackHole}). Answers go back
 * to the client. The client's first flight is recorded ({@link #firstFlight}), for replays.
 */
final class UdpRelay implements AutoCloseable {

    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    private final DatagramSocket front = new DatagramSocket(new InetSocketAddress(LOOPBACK, 0));
    private final DatagramSocket toFirst = new DatagramSocket(new InetSocketAddress(LOOPBACK, 0));
    private final DatagramSocket toRest;
    private final InetSocketAddress first;
    private final InetSocketAddress rest;
    private final List<byte[]> firstFlight = new CopyOnWriteArrayList<>();
    private volatile boolean answered;
    private volatile SocketAddress client;

    private UdpRelay(InetSocketAddress first, InetSocketAddress rest, boolean ownSocketForRest) throws IOException {
        this.first = first;
        this.rest = rest;
        this.toRest = ownSocketForRest ? new DatagramSocket(new InetSocketAddress(LOOPBACK, 0)) : toFirst;
        Thread.ofPlatform().daemon().start(() -> pump(front, true));
        Thread.ofPlatform().daemon().start(() -> pump(toFirst, false));
        if (toRest != toFirst) {
            Thread.ofPlatform().daemon().start(() -> pump(toRest, false));
        }
    }

    /** The whole connection to {@code server}, from one port. */
    static UdpRelay through(InetSocketAddress server) throws IOException {
        return new UdpRelay(server, server, false);
    }

    /** The first flight to {@code first}, the rest to {@code rest}, from two ports (two 4-tuples, two hashes). */
    static UdpRelay split(InetSocketAddress first, InetSocketAddress rest) throws IOException {
        return new UdpRelay(first, rest, true);
    }

    /** Only the first flight reaches {@code server}; nothing else passes: a handshake that never completes. */
    static UdpRelay blackHole(InetSocketAddress server) throws IOException {
        return new UdpRelay(server, null, false);
    }

    /** The port the client sends to, on 127.0.0.1. */
    int port() {
        return front.getLocalPort();
    }

    /** The client's datagrams sent before any server answered. */
    List<byte[]> firstFlight() {
        return List.copyOf(firstFlight);
    }

    private void pump(DatagramSocket from, boolean fromClient) {
        byte[] buffer = new byte[65_536];
        try {
            while (true) {
                DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
                from.receive(packet);
                byte[] data = Arrays.copyOf(packet.getData(), packet.getLength());
                if (fromClient) {
                    client = packet.getSocketAddress();
                    if (!answered) {
                        firstFlight.add(data);
                        toFirst.send(new DatagramPacket(data, data.length, first));
                    } else if (rest != null) {
                        toRest.send(new DatagramPacket(data, data.length, rest));
                    }
                } else {
                    answered = true;
                    if (rest != null && client != null) {
                        front.send(new DatagramPacket(data, data.length, client));
                    }
                }
            }
        } catch (IOException closed) {
            // the relay was closed
        }
    }

    @Override
    public void close() {
        front.close();
        toFirst.close();
        toRest.close();
    }
}
