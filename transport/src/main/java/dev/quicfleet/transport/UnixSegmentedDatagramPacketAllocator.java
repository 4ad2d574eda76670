package dev.quicfleet.transport;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.socket.DatagramPacket;
import io.netty.channel.unix.SegmentedDatagramPacket;
import io.netty.handler.codec.quic.SegmentedDatagramPacketAllocator;
import java.net.InetSocketAddress;

/**
 * GSO for io_uring: Netty ships an allocator for epoll only ({@code EpollQuicUtils}), but
 * {@code IoUringDatagramChannel} sends the same {@link SegmentedDatagramPacket} with {@code UDP_SEGMENT}.
 *
 * <p>Netty's QUIC codec hands over the segments as a composite of one direct buffer per packet. io_uring sends from
 * one memory address, so {@code IoUringDatagramChannel} copies a composite into a new direct buffer, and Netty 4.2.18
 * does it through {@code CompositeByteBuf.nioBuffer()}: a heap {@code ByteBuffer} per send and every byte copied twice
 * (3.3% of a worker's CPU in a 1 GiB download, async-profiler). This allocator gathers the segments into one direct
 * buffer itself, one copy per byte, before the channel sees them.
 */
final class UnixSegmentedDatagramPacketAllocator implements SegmentedDatagramPacketAllocator {

    private final int maxNumSegments;

    UnixSegmentedDatagramPacketAllocator(int maxNumSegments) {
        // The kernel caps one GSO send at 64 segments (UDP_MAX_SEGMENTS).
        this.maxNumSegments = Math.min(maxNumSegments, 64);
    }

    @Override
    public int maxNumSegments() {
        return maxNumSegments;
    }

    @Override
    public DatagramPacket newPacket(ByteBuf buffer, int segmentSize, InetSocketAddress remoteAddress) {
        return new SegmentedDatagramPacket(contiguous(buffer), segmentSize, remoteAddress);
    }

    /** {@code buffer} itself when it has one memory address, else its bytes in one direct buffer (released). */
    static ByteBuf contiguous(ByteBuf buffer) {
        if (buffer.hasMemoryAddress() || !(buffer instanceof CompositeByteBuf composite)
                || composite.numComponents() == 0 || composite.readerIndex() != 0
                || composite.writerIndex() != composite.capacity()) {
            return buffer;
        }
        // The composite's own allocator is Unpooled's; its parts come from the channel's (pooled) allocator.
        ByteBuf gathered = composite.component(0).alloc().directBuffer(composite.readableBytes());
        try {
            for (int i = 0; i < composite.numComponents(); i++) {
                gathered.writeBytes(composite.component(i));
            }
        } catch (RuntimeException e) {
            gathered.release();
            throw e;
        } finally {
            composite.release();
        }
        return gathered;
    }
}
