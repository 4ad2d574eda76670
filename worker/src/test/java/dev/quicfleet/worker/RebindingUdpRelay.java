package dev.quicfleet.worker;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A UDP relay for one client that behaves like a NAT rebinding in the middle of a transfer: once the server has sent
 * {@code rebindAfter} bytes through it, the client's next datagram gets a new mapping — the relay closes its socket
 * towards the server and opens a new one, on a new port of the same address or on the next address
 * ({@code 127.0.0.2} → {@code 127.0.0.3}) — and every datagram on its way to the client at that moment is dropped,
 * like whatever the server still sends to the old mapping. The client's datagrams leave through the new mapping from
 * then on, those already queued included. (Rebinding on a datagram from the server instead can leave the server
 * nothing to learn the new address from: a client that only receives may have nothing left to send.) Each datagram is
 * delayed by {@code oneWayDelay} so that there is something in flight to lose.
 */
public final class RebindingUdpRelay implements AutoCloseable {

    private static final int MAX_DATAGRAM = 65_535;

    private final InetSocketAddress server;
    private final InetAddress[] upstreamAddresses;
    private final long rebindAfter;
    private final long delayNanos;
    private final DatagramSocket front;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("rebinding-relay-timer").factory());
    /** Bumped at the rebinding: datagrams scheduled under an older generation are dropped. */
    private final AtomicInteger generation = new AtomicInteger();
    private final AtomicLong fromServerBytes = new AtomicLong();
    private final AtomicLong dropped = new AtomicLong();

    private final CountDownLatch rebound = new CountDownLatch(1);
    private volatile DatagramSocket upstream;
    private volatile SocketAddress client;
    private volatile boolean closed;

    private RebindingUdpRelay(InetSocketAddress server, InetAddress[] upstreamAddresses, long rebindAfter,
                              Duration oneWayDelay) throws IOException {
        this.server = server;
        this.upstreamAddresses = upstreamAddresses;
        this.rebindAfter = rebindAfter;
        this.delayNanos = oneWayDelay.toNanos();
        this.front = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        front.setReceiveBufferSize(4 << 20);
        front.setSendBufferSize(4 << 20);
        this.upstream = openUpstream(0);
        Thread.ofPlatform().daemon().name("rebinding-relay-front").start(this::fromClient);
    }

    /**
     * A relay to {@code server} whose first mapping uses {@code upstreamAddresses[0]} and, after the server sent
     * {@code rebindAfter} bytes, {@code upstreamAddresses[1]} (the same address twice: a port change only).
     */
    public static RebindingUdpRelay start(InetSocketAddress server, InetAddress first, InetAddress second, long rebindAfter,
                                   Duration oneWayDelay) throws IOException {
        return new RebindingUdpRelay(server, new InetAddress[] {first, second}, rebindAfter, oneWayDelay);
    }

    /** The port the client sends to, on 127.0.0.1. */
    public int port() {
        return front.getLocalPort();
    }

    /** Waits (bounded) for the rebinding; false if it did not happen in time. */
    public boolean awaitRebound(Duration timeout) throws InterruptedException {
        return rebound.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Whether the rebinding happened. */
    public boolean rebound() {
        return rebound.getCount() == 0;
    }

    /** Datagrams dropped at and after the rebinding (in flight, or sent by the server to the old mapping). */
    public long dropped() {
        return dropped.get();
    }

    /** The source address the server sees now. */
    public InetSocketAddress upstreamAddress() {
        return (InetSocketAddress) upstream.getLocalSocketAddress();
    }

    private DatagramSocket openUpstream(int index) throws IOException {
        DatagramSocket socket = new DatagramSocket(new InetSocketAddress(upstreamAddresses[index], 0));
        socket.setReceiveBufferSize(4 << 20);
        socket.setSendBufferSize(4 << 20);
        int gen = generation.get();
        Thread.ofPlatform().daemon().name("rebinding-relay-upstream-" + index).start(() -> fromServer(socket, gen));
        return socket;
    }

    private void fromClient() {
        byte[] buffer = new byte[MAX_DATAGRAM];
        while (!closed) {
            DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
            try {
                front.receive(packet);
            } catch (IOException e) {
                return; // closed
            }
            if (client == null) {
                client = packet.getSocketAddress();
            } else if (!client.equals(packet.getSocketAddress())) {
                continue; // one client only
            }
            byte[] data = Arrays.copyOf(packet.getData(), packet.getLength());
            if (fromServerBytes.get() >= rebindAfter && rebound.getCount() > 0) {
                rebind(); // like a NAT whose mapping changed: this packet gets the new one
            }
            // leaves through the mapping of the moment it leaves
            later(-1, () -> upstream.send(new DatagramPacket(data, data.length, server)));
        }
    }

    private void fromServer(DatagramSocket socket, int gen) {
        byte[] buffer = new byte[MAX_DATAGRAM];
        while (!closed) {
            DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
            try {
                socket.receive(packet);
            } catch (IOException e) {
                return; // closed: the old mapping
            }
            if (gen != generation.get()) {
                dropped.incrementAndGet(); // arrived at the old mapping after the rebinding
                continue;
            }
            byte[] data = Arrays.copyOf(packet.getData(), packet.getLength());
            fromServerBytes.addAndGet(data.length);
            SocketAddress to = client;
            later(gen, () -> front.send(new DatagramPacket(data, data.length, to)));
        }
    }

    private synchronized void rebind() {
        if (rebound.getCount() == 0) {
            return;
        }
        generation.incrementAndGet();
        DatagramSocket old = upstream;
        try {
            upstream = openUpstream(1);
        } catch (IOException e) {
            throw new IllegalStateException("relay: cannot open the new mapping on " + upstreamAddresses[1], e);
        }
        old.close();
        rebound.countDown();
    }

    private interface Send {
        void run() throws IOException;
    }

    /** Sends after the delay; a datagram to the client ({@code gen} ≥ 0) only if no rebinding happened meanwhile. */
    private void later(int gen, Send send) {
        if (closed) {
            return; // a datagram received as the relay closed
        }
        try {
            timer.schedule(() -> send(gen, send), delayNanos, TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException e) {
            // closed meanwhile: dropped, like any datagram in flight when the relay goes away
        }
    }

    private void send(int gen, Send send) {
        if (gen >= 0 && gen != generation.get()) {
            dropped.incrementAndGet(); // on its way to the client at the rebinding
            return;
        }
        try {
            send.run();
        } catch (IOException e) {
            // closed, or the kernel dropped it: UDP
        }
    }

    @Override
    public void close() {
        closed = true;
        timer.shutdownNow();
        front.close();
        upstream.close();
    }

    /** {@code RebindingUdpRelay SERVER_PORT FIRST_ADDRESS SECOND_ADDRESS REBIND_AFTER_BYTES}: for runs by hand. */
    public static void main(String[] args) throws Exception {
        try (RebindingUdpRelay relay = start(new InetSocketAddress(InetAddress.getLoopbackAddress(),
                Integer.parseInt(args[0])), InetAddress.getByName(args[1]), InetAddress.getByName(args[2]),
                Long.parseLong(args[3]), Duration.ofMillis(5))) {
            System.out.println("relay: 127.0.0.1:" + relay.port());
            System.out.flush();
            relay.awaitRebound(Duration.ofMinutes(5));
            System.out.println("rebound to " + relay.upstreamAddress());
            CountDownLatch never = new CountDownLatch(1);
            for (int i = 0; i < 60; i++) {
                never.await(1, TimeUnit.SECONDS);
                System.out.println("dropped " + relay.dropped());
                System.out.flush();
            }
        }
    }
}
