package dev.quicfleet.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.socket.DatagramPacket;
import io.netty.channel.unix.SegmentedDatagramPacket;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

class UnixSegmentedDatagramPacketAllocatorTest {

    private static final InetSocketAddress CLIENT = new InetSocketAddress("127.0.0.1", 50_000);

    private final UnixSegmentedDatagramPacketAllocator allocator = new UnixSegmentedDatagramPacketAllocator(10);

    @Test
    void gathersTheCodecsCompositeOfDirectSegmentsIntoOneDirectBuffer() {
        // What Netty's QUIC codec passes: Unpooled.wrappedBuffer over one direct buffer per packet.
        ByteBuf first = segment(1350, 1);
        ByteBuf second = segment(1350, 2);
        ByteBuf last = segment(700, 3);
        ByteBuf composite = Unpooled.wrappedBuffer(first, second, last);
        byte[] expected = ByteBufUtil.getBytes(composite);

        DatagramPacket packet = allocator.newPacket(composite, 1350, CLIENT);

        assertThat(packet).isInstanceOf(SegmentedDatagramPacket.class);
        assertThat(((SegmentedDatagramPacket) packet).segmentSize()).isEqualTo(1350);
        assertThat(packet.recipient()).isEqualTo(CLIENT);
        ByteBuf content = packet.content();
        assertThat(content.hasMemoryAddress()).as("io_uring sends it without another copy").isTrue();
        assertThat(ByteBufUtil.getBytes(content)).isEqualTo(expected);
        assertThat(composite.refCnt()).as("the composite and its segments are released").isZero();
        assertThat(first.refCnt()).isZero();
        assertThat(last.refCnt()).isZero();
        packet.release();
    }

    @Test
    void passesABufferWithAMemoryAddressThrough() {
        ByteBuf one = segment(1200, 7);
        DatagramPacket packet = allocator.newPacket(one, 1200, CLIENT);
        assertThat(packet.content()).isSameAs(one);
        packet.release();
    }

    @Test
    void capsSegmentsAtTheKernelsLimit() {
        assertThat(new UnixSegmentedDatagramPacketAllocator(128).maxNumSegments()).isEqualTo(64);
    }

    private static ByteBuf segment(int length, int fill) {
        ByteBuf buffer = PooledByteBufAllocator.DEFAULT.directBuffer(length);
        for (int i = 0; i < length; i++) {
            buffer.writeByte(fill + i);
        }
        return buffer;
    }
}
