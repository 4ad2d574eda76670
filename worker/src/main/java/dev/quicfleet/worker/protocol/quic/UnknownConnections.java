package dev.quicfleet.worker.protocol.quic;

import dev.quicfleet.metrics.DroppedDatagram;
import dev.quicfleet.metrics.WorkerMetrics;
import dev.quicfleet.transport.ConnectionIds;
import dev.quicfleet.transport.ResetRateLimiter;
import dev.quicfleet.transport.StatelessResets;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DatagramPacket;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a worker does with short-header packets that are not for one of its connections (RFC 9000 §10.3), in a handler
 * ahead of the QUIC codec (which drops them silently):
 * <ul>
 *   <li>a connection ID naming <b>another worker's slot</b> is counted as misrouted
 *       ({@code quicfleet_quic_packets_misrouted_total}: kernel steering is off or not working) and left to the codec
 *       — its connection may well be alive on that worker, so it never gets a reset;</li>
 *   <li>a connection ID of <b>this worker's slot</b> that the codec does not know belongs to a connection this slot
 *       has lost — closed, or held by a worker that died — so it gets a stateless reset whose token the issuing
 *       worker derived from the same shared key ({@link StatelessResets}), rate-limited per client and in total
 *       ({@link ResetRateLimiter}). The client closes at once instead of at its idle timeout.</li>
 * </ul>
 *
 * <p>While the worker drains, the Initial of a new connection is dropped here, before the codec spends a TLS handshake
 * on it ({@link #refuseWhileDraining}), unless the reload hand-over passes it to the replacement.
 *
 * <p>No reset is sent while another process may hold connections of this slot: while this worker drains (its
 * successor serves the slot), while {@code mayReset} says no (a reloaded worker's predecessor still drains on the same
 * socket; several workers started by hand on one port with {@code --reuse-port}), without keys, or when Netty's
 * connection table cannot be read (another Netty version: then resets are off, said once at start).
 *
 * <p>Cost on the hot path: for every short-header packet of this slot, the ID is compared with the last one found in
 * the codec's connection table (20 bytes; a connection's packets come in runs); only another ID costs a lookup there
 * (a SipHash of the ID), which the codec then repeats — Netty offers no hook after its own lookup fails. The cache
 * only ever answers "known" (no reset) and only while that connection's channel is open.
 *
 * <p>Netty 4.2.18 asks the reset-token generator only for the connection IDs it issues in NEW_CONNECTION_ID frames;
 * the ID chosen during the handshake has no token (Netty offers only one token for every connection, which would let
 * any client reset any other). A client therefore recognises a reset once it uses one of the later IDs — after a
 * migration or NAT rebinding, which is when its packets most often reach a process that lost its state.
 */
public final class UnknownConnections extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(UnknownConnections.class);

    private final ConnectionIds ids;
    private final int slot;
    private final StatelessResets resets;
    private final ResetRateLimiter.Limiter limiter;
    private final WorkerMetrics metrics;
    private final BooleanSupplier mayReset;
    private final SlotHandover handover;
    private final BooleanSupplier draining;
    private final MethodHandle lookup;
    /** The last connection ID the codec's table knew, and its connection: see {@link #known}. */
    private final ByteBuffer lastKnownId = ByteBuffer.allocate(ConnectionIds.MAX_LENGTH).limit(0);
    private Channel lastKnownChannel;

    /**
     * @param codec    the QUIC codec this handler sits in front of (its connection table is read, never changed)
     * @param mayReset whether resets may be sent at this moment (see the class comment); {@code null} turns them off
     * @param handover the link to the other worker of this slot during a reload ({@link SlotHandover})
     * @param draining whether this worker drains (then it passes on even new connections during a hand-over)
     */
    public UnknownConnections(ConnectionIds ids, int slot, StatelessResets resets, ResetRateLimiter limits,
                       WorkerMetrics metrics, ChannelHandler codec, BooleanSupplier mayReset, SlotHandover handover,
                       BooleanSupplier draining) {
        this.ids = ids;
        this.slot = slot;
        this.resets = resets;
        this.limiter = limits.newLimiter();
        this.metrics = metrics;
        this.mayReset = mayReset;
        this.handover = handover;
        this.draining = draining;
        this.lookup = connectionLookup(codec);
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        if (handover != null) {
            handover.injectInto(ctx); // packets the other worker passes on enter after this handler
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (msg instanceof DatagramPacket packet) {
            ByteBuf content = packet.content();
            int start = content.readerIndex();
            int length = content.readableBytes();
            if (length > 1 + ids.length() && (content.getUnsignedByte(start) & 0x80) == 0) {
                ByteBuffer dcid = content.internalNioBuffer(start + 1, ids.length());
                if (ids.isIssuedByThisHost(dcid)) {
                    // validated just above: read the slot byte directly (this runs for every packet)
                    int target = dcid.get(dcid.position() + ids.slotOffset()) & 0xFF;
                    if (target != slot) {
                        metrics.packetMisrouted();
                    } else if (lookup != null && handing() && !known(dcid) && handover.forward(packet)) {
                        packet.release(); // the other worker of this slot has it (or had it: then it is lost)
                        return;
                    } else if (lookup != null && mayReset != null && mayReset.getAsBoolean() && !known(dcid)) {
                        reset(ctx, packet);
                        packet.release();
                        return;
                    }
                }
            } else if (length >= 7 && (content.getUnsignedByte(start) & 0x80) != 0 && lookup != null && handing()
                    && passOnLongHeader(content) && handover.forward(packet)) {
                packet.release();
                return;
            } else if (length >= 7 && lookup != null && draining.getAsBoolean() && isNewConnection(content)) {
                refuseWhileDraining(packet);
                return;
            }
        }
        ctx.fireChannelRead(msg);
    }

    /**
     * A draining worker refuses new connections before any TLS work: the Initial of a connection the codec does not
     * know is dropped (unless the reload hand-over passed it on just above). Without this, the codec completed a full
     * handshake (a signature, 40-60 KB of state) for each, only for the worker to close it at once. The client
     * retries and, after a reload, reaches the replacement; handshakes in progress when the drain began go on (their
     * Initials carry an ID the codec knows).
     */
    private void refuseWhileDraining(DatagramPacket packet) {
        metrics.datagramDropped(DroppedDatagram.DRAINING);
        if (log.isDebugEnabled()) {
            log.debug("dropping a new QUIC connection's Initial from {}: draining", packet.sender());
        }
        packet.release();
    }

    /** Whether {@code content} is a QUIC v1 Initial for a connection ID the codec does not know. */
    private boolean isNewConnection(ByteBuf content) {
        int start = content.readerIndex();
        int first = content.getUnsignedByte(start);
        if ((first & 0x80) == 0 || content.getInt(start + 1) != 1 || ((first >> 4) & 0x3) != 0) {
            return false;
        }
        int idLength = content.getUnsignedByte(start + 5);
        if (idLength > ConnectionIds.MAX_LENGTH || 6 + idLength > content.readableBytes()) {
            return false;
        }
        return !known(content.internalNioBuffer(start + 6, idLength));
    }

    private boolean handing() {
        return handover != null && handover.active();
    }

    /**
     * During a hand-over, whether a long-header packet goes to the other worker: one for a connection this worker
     * does not know — except, on the replacement, an Initial of a new connection, which it accepts itself.
     */
    private boolean passOnLongHeader(ByteBuf content) {
        int start = content.readerIndex();
        int idLength = content.getUnsignedByte(start + 5);
        if (idLength > ConnectionIds.MAX_LENGTH || 6 + idLength > content.readableBytes()) {
            return false;
        }
        boolean initial = content.getInt(start + 1) == 1 && ((content.getUnsignedByte(start) >> 4) & 0x3) == 0;
        if (initial && !draining.getAsBoolean()) {
            return false;
        }
        return !known(content.internalNioBuffer(start + 6, idLength));
    }

    private boolean known(ByteBuffer dcid) {
        if (lookup == null) {
            return true;
        }
        if (lastKnownChannel != null && lastKnownChannel.isOpen() && dcid.equals(lastKnownId)) {
            return true; // the same connection as the last packet's (equals compares the remaining bytes)
        }
        Object channel;
        try {
            channel = lookup.invoke(dcid.duplicate());
        } catch (Throwable e) {
            return true; // cannot tell: never reset
        }
        if (channel instanceof Channel known) {
            lastKnownId.clear();
            lastKnownId.put(dcid.duplicate()).flip();
            lastKnownChannel = known;
        }
        return channel != null;
    }

    private void reset(ChannelHandlerContext ctx, DatagramPacket packet) {
        ByteBuf content = packet.content();
        byte[] reset = resets.respondTo(content.nioBuffer());
        if (reset == null) {
            return;
        }
        boolean allowed = limiter.tryAcquire(packet.sender().getAddress());
        metrics.statelessReset(allowed);
        if (allowed) {
            ctx.writeAndFlush(new DatagramPacket(Unpooled.wrappedBuffer(reset), packet.sender()));
        }
    }

    /**
     * {@code ByteBuffer -> channel or null}, read from the codec's connection table
     * ({@code QuicheQuicCodec.connectionIdToChannel.get}); {@code null} if this Netty has no such table.
     */
    private static MethodHandle connectionLookup(ChannelHandler codec) {
        try {
            Class<?> codecClass = Class.forName("io.netty.handler.codec.quic.QuicheQuicCodec");
            Field field = codecClass.getDeclaredField("connectionIdToChannel");
            field.setAccessible(true);
            Object table = field.get(codec);
            Method get = table.getClass().getDeclaredMethod("get", ByteBuffer.class);
            get.setAccessible(true);
            return MethodHandles.lookup().unreflect(get).bindTo(table)
                    .asType(MethodType.methodType(Object.class, ByteBuffer.class));
        } catch (ReflectiveOperationException | RuntimeException e) {
            log.warn("stateless resets off: cannot read the QUIC codec's connection table in this Netty version ({})",
                    e.toString());
            return null;
        }
    }
}
