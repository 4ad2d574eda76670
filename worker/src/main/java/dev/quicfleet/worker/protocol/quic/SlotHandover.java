package dev.quicfleet.worker.protocol.quic;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.socket.DatagramPacket;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.DatagramChannel;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The hand-over of a slot's UDP socket during a rolling reload. The old worker and its replacement read the very same
 * socket (the supervisor's) until the old one has drained, and the kernel gives each datagram to whichever reads
 * first. So each passes on to the other what is not its own, over a private UDP link on 127.0.0.1 between two ports
 * the supervisor introduced to each other:
 * <ul>
 *   <li>the replacement passes on packets for connection IDs of the slot that it does not know (the old worker's
 *       connections: their ACKs, requests, and Handshake packets of handshakes the old worker began);</li>
 *   <li>the old worker, draining, passes on every packet it does not know, new connections' Initials included — it
 *       would otherwise refuse them (CONNECTION_REFUSED) while the replacement stands ready.</li>
 * </ul>
 * A passed-on packet is processed by the receiver as if it had read it from the shared socket (same client address),
 * and it answers through that socket, so the client sees one server. It is never passed on again.
 *
 * <p>Frames on the link: version 1, the client's address (length, bytes, port), the local address the packet arrived
 * at, then the datagram. Only datagrams from the peer's port on 127.0.0.1 are accepted; other local processes cannot
 * bind that port while the peer holds it, and remote hosts cannot reach 127.0.0.1.
 */
public final class SlotHandover implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(SlotHandover.class);
    private static final byte VERSION = 1;
    private static final int MAX_FRAME = 1 + 2 * (1 + 16 + 2) + 65_535;

    private final DatagramChannel link;
    private final int port;
    private final LongAdder sent = new LongAdder();
    private final LongAdder received = new LongAdder();
    private volatile InetSocketAddress peer;
    /** Where received packets enter: the context of the handler ahead of the QUIC codec (after it, the codec). */
    private volatile ChannelHandlerContext inject;

    private SlotHandover(DatagramChannel link) throws IOException {
        this.link = link;
        this.port = ((InetSocketAddress) link.getLocalAddress()).getPort();
    }

    /** Opens the link socket on 127.0.0.1 and a virtual thread that receives on it. */
    public static SlotHandover open() throws IOException {
        DatagramChannel link = DatagramChannel.open(StandardProtocolFamily.INET);
        try {
            link.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            link.setOption(StandardSocketOptions.SO_RCVBUF, 4 << 20);
        } catch (IOException e) {
            link.close();
            throw e;
        }
        SlotHandover handover = new SlotHandover(link);
        Thread.ofVirtual().name("quicfleet-handover").start(handover::receive);
        return handover;
    }

    /** The link's port, which the supervisor gives the other worker of the slot. */
    public int port() {
        return port;
    }

    /** Shares the slot with the worker whose link is on {@code peerPort} (0: with nobody any more). */
    public void peer(int peerPort) {
        InetSocketAddress previous = peer;
        peer = peerPort == 0 ? null : new InetSocketAddress(InetAddress.getLoopbackAddress(), peerPort);
        if (peerPort != 0) {
            log.info("sharing the slot's UDP socket with the worker on handover port {}: passing on what is not ours",
                    peerPort);
        } else if (previous != null) {
            log.info("slot hand-over over: {} packets passed on, {} received", sent.sum(), received.sum());
        }
    }

    /** Whether another worker shares the slot's socket now. */
    public boolean active() {
        return peer != null;
    }

    /** Where received packets are processed (set by the handler ahead of the codec when it is added). */
    void injectInto(ChannelHandlerContext ctx) {
        inject = ctx;
    }

    /**
     * Passes {@code packet} on to the peer (its content is not released; the caller releases the packet). Returns
     * false when there is no peer or the link refused it (then the caller treats the packet as it would without a
     * hand-over).
     */
    boolean forward(DatagramPacket packet) {
        InetSocketAddress to = peer;
        if (to == null || packet.sender() == null || packet.recipient() == null) {
            return false;
        }
        ByteBuf content = packet.content();
        ByteBuffer frame = ByteBuffer.allocate(content.readableBytes() + 2 * (1 + 16 + 2) + 1);
        frame.put(VERSION);
        putAddress(frame, packet.sender());
        putAddress(frame, packet.recipient());
        frame.limit(frame.position() + content.readableBytes()); // getBytes fills the buffer up to its limit
        content.getBytes(content.readerIndex(), frame);
        frame.flip();
        try {
            link.send(frame, to);
            sent.increment();
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private void receive() {
        ByteBuffer frame = ByteBuffer.allocate(MAX_FRAME);
        while (true) {
            frame.clear();
            SocketAddress from;
            try {
                from = link.receive(frame);
            } catch (ClosedChannelException closed) {
                return;
            } catch (IOException e) {
                log.debug("handover link: {}", e.toString());
                continue;
            }
            InetSocketAddress expected = peer;
            ChannelHandlerContext ctx = inject;
            if (expected == null || !expected.equals(from) || ctx == null) {
                continue; // not from the worker we share the slot with
            }
            frame.flip();
            try {
                if (frame.get() != VERSION) {
                    continue;
                }
                InetSocketAddress sender = getAddress(frame);
                InetSocketAddress recipient = getAddress(frame);
                ByteBuf payload = Unpooled.copiedBuffer(frame);
                received.increment();
                ctx.executor().execute(() -> ctx.fireChannelRead(new DatagramPacket(payload, recipient, sender)));
            } catch (RuntimeException | UnknownHostException malformed) {
                log.debug("handover link: malformed frame: {}", malformed.toString());
            }
        }
    }

    private static void putAddress(ByteBuffer frame, InetSocketAddress address) {
        byte[] bytes = address.getAddress().getAddress();
        frame.put((byte) bytes.length).put(bytes).putShort((short) address.getPort());
    }

    private static InetSocketAddress getAddress(ByteBuffer frame) throws UnknownHostException {
        byte[] bytes = new byte[frame.get()];
        frame.get(bytes);
        return new InetSocketAddress(InetAddress.getByAddress(bytes), frame.getShort() & 0xFFFF);
    }

    @Override
    public void close() {
        try {
            link.close();
        } catch (IOException e) {
            // closing
        }
    }
}
