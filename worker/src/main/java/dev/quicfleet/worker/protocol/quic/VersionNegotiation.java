package dev.quicfleet.worker.protocol.quic;

import dev.quicfleet.metrics.WorkerMetrics;
import dev.quicfleet.transport.ResetRateLimiter;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DatagramPacket;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Answers a datagram of a QUIC version this worker does not speak with a Version Negotiation packet listing QUIC v1
 * (RFC 9000 §6, §17.2.1), the one version quiche speaks, so a client that tries QUIC v2 (RFC 9369) first falls back
 * to v1 at once instead of timing out. Netty 4.2.18 negotiates only when the packet's v1 type bits say Initial, and
 * QUIC v2 renumbered the types (its Initial carries the v1 bits of 0-RTT), so a v2 Initial got no answer at all.
 *
 * <p>Only datagrams of at least 1,200 bytes are answered (RFC 9000 §5.2.2, §14.1: a client's first datagram is that
 * large, so the answer, a few dozen bytes, never amplifies), and answers are rate-limited per client address and in
 * total (§21.5: never a reflector); both outcomes are counted. Sits ahead of the QUIC codec, so the datagram of a
 * reserved version that {@link EarlyData} feeds the codec for its own connections (inserted behind this handler)
 * is never answered.
 */
public final class VersionNegotiation extends ChannelInboundHandlerAdapter {

    /** RFC 9000 §14.1: the smallest datagram that carries a client's first packet. */
    static final int MIN_DATAGRAM = 1200;
    private static final int QUIC_V1 = 1;
    private static final int MAX_CID = 20;

    private final WorkerMetrics metrics;
    private final ResetRateLimiter.Limiter limiter;

    public VersionNegotiation(WorkerMetrics metrics, ResetRateLimiter.Limiter limiter) {
        this.metrics = metrics;
        this.limiter = limiter;
    }

    /** Per client address 5 answers a second (burst 10), 200 a second in total (burst 400). */
    public static ResetRateLimiter defaultLimits() {
        return new ResetRateLimiter(5, 10, 200, 400, 65_536, System::nanoTime);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof DatagramPacket packet) {
            ByteBuf datagram = packet.content();
            int start = datagram.readerIndex();
            // a long header (the first bit) of a version other than 1; 0 is Version Negotiation itself, never answered
            if (datagram.readableBytes() >= 7 && (datagram.getUnsignedByte(start) & 0x80) != 0) {
                int version = datagram.getInt(start + 1);
                if (version != QUIC_V1) {
                    if (version != 0 && datagram.readableBytes() >= MIN_DATAGRAM) {
                        answer(ctx, packet);
                    }
                    packet.release(); // the codec could do nothing with it
                    return;
                }
            }
        }
        ctx.fireChannelRead(msg);
    }

    private void answer(ChannelHandlerContext ctx, DatagramPacket packet) {
        ByteBuf datagram = packet.content();
        int start = datagram.readerIndex();
        int end = datagram.writerIndex();
        int dcidLength = datagram.getUnsignedByte(start + 5);
        int scidAt = start + 6 + dcidLength;
        if (dcidLength > MAX_CID || scidAt >= end) {
            return; // not even the version-independent header (RFC 8999 §5.1): nothing to answer
        }
        int scidLength = datagram.getUnsignedByte(scidAt);
        if (scidLength > MAX_CID || scidAt + 1 + scidLength > end) {
            return;
        }
        if (!limiter.tryAcquire(packet.sender().getAddress())) {
            metrics.versionNegotiation(false);
            return;
        }
        ByteBuf out = ctx.alloc().directBuffer(1 + 4 + 1 + scidLength + 1 + dcidLength + 4);
        out.writeByte(0x80 | ThreadLocalRandom.current().nextInt(0x80)); // §17.2.1: the other bits are arbitrary
        out.writeInt(0);
        out.writeByte(scidLength).writeBytes(datagram, scidAt + 1, scidLength); // the client's source id ...
        out.writeByte(dcidLength).writeBytes(datagram, start + 6, dcidLength); // ... and its destination id, swapped
        out.writeInt(QUIC_V1);
        ctx.writeAndFlush(new DatagramPacket(out, packet.sender(), packet.recipient()));
        metrics.versionNegotiation(true);
    }
}
