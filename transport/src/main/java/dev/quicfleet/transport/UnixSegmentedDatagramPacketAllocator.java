package dev.quicfleet.transport;

import io.netty.buffer.ByteBuf;
import io.netty.channel.socket.DatagramPacket;
import io.netty.channel.unix.SegmentedDatagramPacket;
import io.netty.handler.codec.quic.SegmentedDatagramPacketAllocator;
import java.net.InetSocketAddress;

/**
 * GSO for io_uring: Netty ships an allocator for epoll only ({@code EpollQuicUtils}), but
 * {@code IoUringDatagramChannel} sends the same {@link SegmentedDatagramPacket} with {@code UDP_SEGMENT}.
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
        return new SegmentedDatagramPacket(buffer, segmentSize, remoteAddress);
    }
}
