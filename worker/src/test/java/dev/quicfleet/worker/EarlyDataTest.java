package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quicfleet.ticketcache.ReplayCheck;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class EarlyDataTest {

    @Test
    void countsTheInitialAndZeroRttPacketsOfACoalescedDatagram() {
        ByteBuf datagram = Unpooled.buffer();
        longHeader(datagram, 0, true, 40);  // Initial (with an empty token)
        longHeader(datagram, 1, false, 30); // 0-RTT
        longHeader(datagram, 2, false, 20); // Handshake: not replayable
        datagram.writeByte(0x40).writeZero(25); // a short-header packet ends the datagram
        assertThat(EarlyData.replayablePackets(datagram)).isEqualTo(2);
    }

    @Test
    void aHandshakeOrShortHeaderPacketIsNotReplayableAndJunkCountsNothing() {
        ByteBuf handshake = Unpooled.buffer();
        longHeader(handshake, 2, false, 20);
        assertThat(EarlyData.replayablePackets(handshake)).isZero();
        assertThat(EarlyData.replayablePackets(Unpooled.wrappedBuffer(new byte[] {0x41, 1, 2, 3, 4, 5, 6, 7})))
                .isZero();
        assertThat(EarlyData.replayablePackets(Unpooled.wrappedBuffer(new byte[] {(byte) 0xc0, 0, 0, 0, 1, 99})))
                .isZero();
        // a length that runs past the end: the packet counts, nothing after it does, nothing throws
        ByteBuf truncated = Unpooled.buffer();
        longHeader(truncated, 1, false, 30);
        truncated.writerIndex(truncated.writerIndex() - 10);
        assertThat(EarlyData.replayablePackets(truncated)).isEqualTo(1);
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
        assertThatThrownBy(() -> EarlyDataPolicy.parse("yes")).hasMessage(
                "early-data: yes (expected: off, safe or all)");
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
