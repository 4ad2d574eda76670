package dev.quicfleet.worker.protocol.quic;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quicfleet.ticketcache.ReplayCheck;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class EarlyDataTest {

    @Test
    void aFirstFlightWithZeroRttGetsANudgeForItsConnectionThatNoVersionMatches() {
        ByteBuf datagram = Unpooled.buffer();
        longHeader(datagram, 0, true, 40);  // Initial (with an empty token)
        longHeader(datagram, 1, false, 30); // 0-RTT
        datagram.setByte(6, 0x5a);          // the first byte of the destination connection id
        assertThat(EarlyData.zeroRttConnectionIdOffset(datagram)).isEqualTo(6);
        ByteBuf nudge = EarlyData.nudgeFor(datagram);
        assertThat(nudge).isNotNull();
        assertThat(nudge.getUnsignedByte(0) & 0x80).as("long header").isNotZero();
        assertThat((nudge.getUnsignedByte(0) >> 4) & 0x3).as("never the type bits of an Initial").isEqualTo(2);
        assertThat(nudge.getInt(1)).as("a reserved version (RFC 9000 §15)").isEqualTo(0x1a2a3a4a);
        assertThat((int) nudge.getUnsignedByte(5)).isEqualTo(8);
        assertThat((int) nudge.getUnsignedByte(6)).isEqualTo(0x5a);
        assertThat(nudge.readableBytes()).isEqualTo(1 + 4 + 1 + 8 + 1);
        nudge.release();
    }

    @Test
    void datagramsWithoutZeroRttGetNoNudgeAndJunkNeverReadsOutOfBounds() {
        ByteBuf initialOnly = Unpooled.buffer();
        longHeader(initialOnly, 0, true, 40);
        initialOnly.writeZero(100); // padding
        assertThat(EarlyData.nudgeFor(initialOnly)).isNull();
        ByteBuf handshake = Unpooled.buffer();
        longHeader(handshake, 2, false, 20);
        longHeader(handshake, 1, false, 20); // after a Handshake packet: a client's later datagram, decrypted directly
        assertThat(EarlyData.zeroRttConnectionIdOffset(handshake)).isEqualTo(6);
        assertThat(EarlyData.nudgeFor(Unpooled.wrappedBuffer(new byte[] {0x41, 1, 2, 3, 4, 5, 6, 7}))).isNull();
        assertThat(EarlyData.nudgeFor(Unpooled.wrappedBuffer(new byte[] {(byte) 0xd0, 0, 0, 0, 1, 99}))).isNull();
        // a length that runs past the end: no packet after it is looked at, nothing throws
        ByteBuf truncated = Unpooled.buffer();
        longHeader(truncated, 0, true, 30);
        longHeader(truncated, 1, false, 30);
        truncated.writerIndex(truncated.writerIndex() - 50);
        assertThat(EarlyData.nudgeFor(truncated)).isNull();
        // a token length that is negative as an int (the varint 0xbfff...): no walk back, no endless loop
        ByteBuf hugeToken = Unpooled.buffer();
        hugeToken.writeByte(0xc0).writeInt(1).writeByte(8).writeZero(8).writeByte(0);
        hugeToken.writeByte(0xff).writeByte(0xff).writeByte(0xff).writeByte(0xff)
                .writeByte(0xff).writeByte(0xff).writeByte(0xff).writeByte(0xf0);
        hugeToken.writeZero(40);
        assertThat(EarlyData.zeroRttConnectionIdOffset(hugeToken)).isEqualTo(-1);
        // reads stay within the datagram's readable bytes, even when the buffer holds more
        ByteBuf inLargerBuffer = Unpooled.buffer();
        longHeader(inLargerBuffer, 0, true, 40);
        int datagramEnd = inLargerBuffer.writerIndex();
        longHeader(inLargerBuffer, 1, false, 30);
        assertThat(EarlyData.zeroRttConnectionIdOffset(inLargerBuffer.slice(0, datagramEnd))).isEqualTo(-1);
        java.util.Random random = new java.util.Random(11);
        for (int i = 0; i < 20_000; i++) {
            byte[] junk = new byte[random.nextInt(64)];
            random.nextBytes(junk);
            if (junk.length > 0 && random.nextBoolean()) {
                junk[0] = (byte) (0xd0 | junk[0] & 0x0f);
            }
            if (junk.length > 4 && random.nextBoolean()) {
                junk[1] = 0; junk[2] = 0; junk[3] = 0; junk[4] = 1;
            }
            ByteBuf nudge = EarlyData.nudgeFor(Unpooled.wrappedBuffer(junk));
            if (nudge != null) {
                nudge.release();
            }
        }
    }

    @Test
    void theLocalReplayRegisterSeesEachClientRandomOnceAndFailsClosedWhenFull() {
        EarlyData.ReplayRegister register = EarlyData.localReplayRegister(Duration.ofHours(1), 2);
        byte[] a = {1, 2, 3};
        assertThat(register.firstUse(a)).isEqualTo(ReplayCheck.FIRST_USE);
        assertThat(register.firstUse(a.clone())).isEqualTo(ReplayCheck.REPLAYED);
        assertThat(register.firstUse(new byte[] {4})).isEqualTo(ReplayCheck.FIRST_USE);
        assertThat(register.firstUse(new byte[] {5})).isEqualTo(ReplayCheck.FULL);
    }

    @Test
    void expiredRecordsMakeRoom() {
        long[] now = {0};
        EarlyData.ReplayRegister register = EarlyData.localReplayRegister(Duration.ofSeconds(10), 1, () -> now[0]);
        assertThat(register.firstUse(new byte[] {1})).isEqualTo(ReplayCheck.FIRST_USE);
        now[0] = Duration.ofSeconds(9).toNanos();
        assertThat(register.firstUse(new byte[] {2})).isEqualTo(ReplayCheck.FULL);
        now[0] = Duration.ofSeconds(10).toNanos();
        assertThat(register.firstUse(new byte[] {2})).isEqualTo(ReplayCheck.FIRST_USE);
    }

    @Test
    void policies() {
        assertThat(EarlyDataPolicy.parse("safe").mayRunEarly("GET", false)).isTrue();
        assertThat(EarlyDataPolicy.SAFE.mayRunEarly("HEAD", false)).isTrue();
        assertThat(EarlyDataPolicy.SAFE.mayRunEarly("GET", true)).isFalse();
        assertThat(EarlyDataPolicy.SAFE.mayRunEarly("POST", false)).isFalse();
        assertThat(EarlyDataPolicy.ALL.mayRunEarly("POST", true)).isTrue();
        assertThat(EarlyDataPolicy.OFF.mayRunEarly("GET", false)).isFalse();
        assertThat(EarlyDataPolicy.parse("425")).isEqualTo(EarlyDataPolicy.TOO_EARLY);
        assertThat(EarlyDataPolicy.TOO_EARLY.mayRunEarly("GET", false)).isTrue();
        assertThat(EarlyDataPolicy.TOO_EARLY.mayRunEarly("POST", true)).isFalse();
        assertThatThrownBy(() -> EarlyDataPolicy.parse("yes")).hasMessage(
                "early-data: yes (expected: off, safe, all or 425)");
    }

    /** A QUIC v1 long-header packet of {@code type} with an 8-byte DCID and SCID and a {@code length}-byte body. */
    private static void longHeader(ByteBuf out, int type, boolean initial, int length) {
        out.writeByte(0xc0 | type << 4);
        out.writeInt(1);
        out.writeByte(8).writeZero(8);
        out.writeByte(8).writeZero(8);
        if (initial) {
            out.writeByte(0); // token length
        }
        out.writeByte(0x40 | length >> 8).writeByte(length & 0xff); // two-byte varint
        out.writeZero(length);
    }
}
