package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.util.Arrays;

/**
 * Fuzzes the long-header walk of {@link EarlyData#replayablePackets}, which reads the coalesced packets of any datagram
 * a client sends to an early-data connection that is not confirmed yet. Contract: it ends (it runs on the event loop:
 * a loop that never ends stops the worker), throws nothing, counts at most one packet per 7 bytes, leaves the buffer's
 * indices alone, and reads nothing outside readerIndex..writerIndex — the answer is the same whatever bytes lie around
 * the datagram in its buffer. The input is the raw datagram, so regression inputs are plain packet bytes.
 * See docs/FUZZING.md.
 */
class EarlyDataFuzzTest {

    @FuzzTest(maxDuration = "10s")
    void walksAnyDatagram(byte[] datagram) {
        if (datagram == null) {
            return;
        }
        ByteBuf tight = Unpooled.wrappedBuffer(datagram);
        int count = EarlyData.replayablePackets(tight);
        assertThat(count).isBetween(0, datagram.length / 7);
        assertThat(tight.readerIndex()).isZero();
        assertThat(tight.writerIndex()).isEqualTo(datagram.length);
        // 0xff: a long header, and the longest varint; 0x00: a short header, and a zero length.
        for (int filler : new int[] {0xff, 0x00}) {
            assertThat(EarlyData.replayablePackets(padded(datagram, (byte) filler)))
                    .as("the same count whatever lies outside the datagram's bytes (filler %02x)", filler)
                    .isEqualTo(count);
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
