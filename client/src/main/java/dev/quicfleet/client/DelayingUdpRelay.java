package dev.quicfleet.client;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.SocketException;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A UDP relay that delays every datagram by a fixed time in each direction, to measure round trips on loopback (the
 * kernel here has no netem). Like a NAT, it gives each client address a socket of its own towards the server, so
 * every client run comes from a new source port (and lands on whichever worker the kernel's reuseport hash picks).
 * Datagrams keep their order. For tests and {@code scripts/bench}; run it alone with {@code scripts/udp-relay}.
 *
 * <pre>{@code
 * try (DelayingUdpRelay relay = DelayingUdpRelay.start(new InetSocketAddress("127.0.0.1", 4433),
 *         Duration.ofMillis(25))) {
 *     // a client sent to 127.0.0.1:relay.port() sees a round-trip time of 50 ms
 * }
 * }</pre>
 */
public final class DelayingUdpRelay implements AutoCloseable {

    private static final int MAX_DATAGRAM = 65_535;

    private final InetSocketAddress server;
    private final long delayNanos;
    private final DatagramSocket front;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("udp-relay-timer").factory());
    private final Map<SocketAddress, DatagramSocket> upstreams = new ConcurrentHashMap<>();
    private final AtomicLong relayed = new AtomicLong();
    private volatile boolean closed;

    private DelayingUdpRelay(InetSocketAddress listen, InetSocketAddress server, Duration oneWayDelay)
            throws IOException {
        this.server = server;
        this.delayNanos = oneWayDelay.toNanos();
        this.front = new DatagramSocket(listen);
        front.setReceiveBufferSize(4 << 20);
        front.setSendBufferSize(4 << 20);
        Thread.ofPlatform().daemon().name("udp-relay-front").start(this::fromClients);
    }

    /** A relay on an ephemeral port of 127.0.0.1 to {@code server}, delaying each way by {@code oneWayDelay}. */
    public static DelayingUdpRelay start(InetSocketAddress server, Duration oneWayDelay) throws IOException {
        return start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), server, oneWayDelay);
    }

    /** A relay listening on {@code listen}. */
    public static DelayingUdpRelay start(InetSocketAddress listen, InetSocketAddress server, Duration oneWayDelay)
            throws IOException {
        if (oneWayDelay.isNegative()) {
            throw new IllegalArgumentException("delay: " + oneWayDelay + " (expected: zero or more)");
        }
        return new DelayingUdpRelay(listen, server, oneWayDelay);
    }

    /** The port clients send to. */
    public int port() {
        return front.getLocalPort();
    }

    /** Datagrams relayed so far, both directions. */
    public long relayed() {
        return relayed.get();
    }

    private void fromClients() {
        byte[] buffer = new byte[MAX_DATAGRAM];
        while (!closed) {
            DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
            try {
                front.receive(packet);
            } catch (IOException e) {
                return; // closed
            }
            SocketAddress client = packet.getSocketAddress();
            DatagramSocket upstream = upstreams.computeIfAbsent(client, this::openUpstream);
            if (upstream == null) {
                continue;
            }
            byte[] data = Arrays.copyOf(packet.getData(), packet.getLength());
            later(upstream, new DatagramPacket(data, data.length, server));
        }
    }

    private DatagramSocket openUpstream(SocketAddress client) {
        try {
            DatagramSocket upstream = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            upstream.setReceiveBufferSize(4 << 20);
            CountDownLatch started = new CountDownLatch(1);
            Thread.ofPlatform().daemon().name("udp-relay-upstream").start(() -> {
                started.countDown();
                fromServer(upstream, client);
            });
            started.await();
            return upstream;
        } catch (SocketException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    private void fromServer(DatagramSocket upstream, SocketAddress client) {
        byte[] buffer = new byte[MAX_DATAGRAM];
        while (!closed) {
            DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
            try {
                upstream.receive(packet);
            } catch (IOException e) {
                return; // closed
            }
            byte[] data = Arrays.copyOf(packet.getData(), packet.getLength());
            later(front, new DatagramPacket(data, data.length, client));
        }
    }

    private void later(DatagramSocket socket, DatagramPacket packet) {
        Runnable send = () -> {
            try {
                socket.send(packet);
                relayed.incrementAndGet();
            } catch (IOException e) {
                // closed, or the kernel dropped it: UDP
            }
        };
        if (delayNanos == 0) {
            send.run();
        } else {
            // one timer thread, equal delays: datagrams leave in the order they came
            timer.schedule(send, delayNanos, TimeUnit.NANOSECONDS);
        }
    }

    @Override
    public void close() {
        closed = true;
        timer.shutdownNow();
        front.close();
        upstreams.values().forEach(DatagramSocket::close);
    }

    /**
     * {@code udp-relay LISTEN_PORT SERVER_HOST:PORT DELAY_MS}: relays until killed, printing
     * {@code relay: 127.0.0.1:PORT -> HOST:PORT, DELAY ms each way} once it listens.
     */
    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: udp-relay LISTEN_PORT SERVER_HOST:PORT ONE_WAY_DELAY_MS");
            System.exit(2);
        }
        int colon = args[1].lastIndexOf(':');
        InetSocketAddress server;
        int listenPort;
        long delay;
        try {
            listenPort = Integer.parseInt(args[0]);
            server = new InetSocketAddress(args[1].substring(0, colon), Integer.parseInt(args[1].substring(colon + 1)));
            delay = Long.parseLong(args[2]);
        } catch (RuntimeException e) {
            System.err.println("error: udp-relay " + String.join(" ", args) + ": " + e.getMessage()
                    + " (expected: LISTEN_PORT HOST:PORT DELAY_MS, e.g. 0 127.0.0.1:4433 25)");
            System.exit(2);
            return;
        }
        DelayingUdpRelay relay = start(new InetSocketAddress(InetAddress.getLoopbackAddress(), listenPort), server,
                Duration.ofMillis(delay));
        System.out.println("relay: 127.0.0.1:" + relay.port() + " -> " + args[1] + ", " + delay + " ms each way");
        System.out.flush();
        new CountDownLatch(1).await();
    }
}
