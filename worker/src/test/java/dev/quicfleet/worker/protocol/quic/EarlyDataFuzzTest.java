package dev.quicfleet.worker.protocol.quic;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.util.Arrays;

/**
 * Fuzzes the long-header walk of {@link EarlyData#zeroRttConnectionIdOffset} and {@link EarlyData#nudgeFor}, which read
 * the coalesced packets of every long-header datagram a client sends, on the event loop, ahead of the QUIC codec.
 * Contract: it ends (a loop that never ends stops the worker), throws nothing, answers -1 or the offset of a connection
 * id that lies inside the datagram, leaves the buffer's indices alone, and reads nothing outside
 * readerIndex..writerIndex — the answer is the same whatever bytes lie around the datagram in its buffer. The input is
 * the raw datagram, so regression inputs are plain packet bytes.
 * See docs/FUZZING.md.
 */
class EarlyDataFuzzTest {

    @FuzzTest(maxDuration = "10s")
    void walksAnyDatagram(byte[] datagram) {
        if (datagram == null) {
            return;
        }
        ByteBuf tight = Unpooled.wrappedBuffer(datagram);
        int offset = EarlyData.zeroRttConnectionIdOffset(tight);
        if (offset >= 0) {
            assertThat(offset).isEqualTo(6);
            assertThat(offset + tight.getUnsignedByte(5)).isLessThanOrEqualTo(datagram.length);
        } else {
            assertThat(offset).isEqualTo(-1);
        }
        assertThat(tight.readerIndex()).isZero();
        assertThat(tight.writerIndex()).isEqualTo(datagram.length);
        ByteBuf nudge = EarlyData.nudgeFor(tight);
        assertThat(nudge == null).isEqualTo(offset < 0);
        if (nudge != null) {
            assertThat(nudge.readableBytes()).isEqualTo(7 + tight.getUnsignedByte(5));
            nudge.release();
        }
        // 0xff: a long header, and the longest varint; 0x00: a short header, and a zero length.
        for (int filler : new int[] {0xff, 0x00}) {
            ByteBuf padded = padded(datagram, (byte) filler);
            int paddedOffset = EarlyData.zeroRttConnectionIdOffset(padded);
            assertThat(paddedOffset < 0 ? -1 : paddedOffset - padded.readerIndex())
                    .as("the same answer whatever lies outside the datagram's bytes (filler %02x)", filler)
                    .isEqualTo(offset);
        }
    }

    /** The datagram inside a larger buffer, as a pooled receive buffer holds it, with {@code filler} around it. */
    private static ByteBuf padded(byte[] datagram, byte filler) {
        byte[] around = new byte[32];
        Arrays.fill(around, filler);
        ByteBuf buf = Unpooled.buffer(datagram.length + 2 * around.length);
        buf.writeBytes(around).writeBytes(datagram).writeBytes(around);
        return buf.readerIndex(around.length).writerIndex(around.length + datagram.length);
    }
}
