package dev.quicfleet.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.handler.codec.quic.QuicConnectionIdGenerator;
import java.nio.ByteBuffer;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ConnectionIdsTest {

    private static final HexFormat HEX = HexFormat.of();

    @Test
    void encodesTheDocumentedByteLayout() {
        ConnectionIds ids = ConnectionIds.of(HEX.parseHex("a1b2"));
        byte[] nonce = new byte[ids.nonceLength()];
        for (int i = 0; i < nonce.length; i++) {
            nonce[i] = (byte) (0xF0 + i);
        }
        byte[] cid = ids.encode(5, 3, nonce);
        // 0b101_10011: rotation 5, length - 1 = 19; server id a1b2; slot 03; nonce f0..
        assertThat(HEX.formatHex(cid)).isEqualTo("b3" + "a1b2" + "03" + "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
        assertThat(cid).hasSize(20);
        assertThat(ids.slotOffset()).isEqualTo(3);
        assertThat(ids.nonceLength()).isEqualTo(16);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "0x07", "0x0102", "0x010203", "0xdeadbeef"})
    void roundTripsRotationServerIdAndSlot(String serverId) {
        ConnectionIds ids = ConnectionIds.of(ConnectionIds.parseServerId(serverId));
        for (int rotation = 0; rotation < ConnectionIds.ROTATION_CODEPOINTS; rotation++) {
            for (int slot : new int[] {0, 1, 2, 127, 255}) {
                byte[] cid = ids.newId(rotation, slot);
                assertThat(cid).hasSize(ConnectionIds.DEFAULT_LENGTH);
                assertThat(ids.isValid(cid)).isTrue();
                assertThat(ids.isIssuedByThisHost(ByteBuffer.wrap(cid))).isTrue();
                assertThat(ConnectionIds.rotation(cid)).isEqualTo(rotation);
                assertThat(ids.slot(cid)).isEqualTo(slot);
                assertThat(ids.serverId(cid)).isEqualTo(ConnectionIds.parseServerId(serverId));
                // the byte the steering program reads
                assertThat(cid[ids.slotOffset()] & 0xFF).isEqualTo(slot);
            }
        }
    }

    @Test
    void decodingRespectsTheBufferPositionAndLeavesItAlone() {
        ConnectionIds ids = ConnectionIds.of(new byte[] {9});
        byte[] cid = ids.newId(2, 7);
        ByteBuffer packet = ByteBuffer.allocate(40);
        packet.put((byte) 0x41).put(cid).put(new byte[5]);
        ByteBuffer dcid = packet.slice(1, cid.length);
        assertThat(ids.slot(dcid)).isEqualTo(7);
        assertThat(ConnectionIds.rotation(dcid)).isEqualTo(2);
        assertThat(dcid.position()).isZero();
        assertThat(dcid.remaining()).isEqualTo(cid.length);
    }

    @Test
    void anotherHostsIdIsValidButNotIssuedHere() {
        byte[] other = ConnectionIds.of(new byte[] {1, 2}).newId(0, 0);
        ConnectionIds here = ConnectionIds.of(new byte[] {1, 3});
        assertThat(here.isValid(other)).isTrue();
        assertThat(here.isIssuedByThisHost(ByteBuffer.wrap(other))).isFalse();
    }

    @Test
    void rejectsIdsOfAnotherShape() {
        ConnectionIds ids = ConnectionIds.of(new byte[0]);
        byte[] cid = ids.newId(1, 1);
        assertThat(ids.isValid(ByteBuffer.wrap(cid, 0, 19))).isFalse(); // wrong length
        byte[] wrongLengthBits = cid.clone();
        wrongLengthBits[0] = (byte) (1 << 5 | 7);
        assertThat(ids.isValid(wrongLengthBits)).isFalse();
        byte[] unroutable = cid.clone();
        unroutable[0] = (byte) (0b111 << 5 | 19);
        assertThat(ids.isValid(unroutable)).isFalse();
        assertThatThrownBy(() -> ids.slot(unroutable))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("does not have this layout");
    }

    @Test
    void neverIssuesTheUnroutableCodepoint() {
        ConnectionIds ids = ConnectionIds.of(new byte[0]);
        assertThatThrownBy(() -> ids.newId(7, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("config rotation: 7 (expected: 0..6; 7 is reserved by QUIC-LB for unroutable IDs)");
        assertThatThrownBy(() -> ids.newId(0, 256))
                .hasMessage("slot: 256 (expected: 0..255)");
    }

    @Test
    void rotationIsTheEpochModuloSeven() {
        assertThat(ConnectionIds.rotationOf(0)).isZero();
        assertThat(ConnectionIds.rotationOf(6)).isEqualTo(6);
        assertThat(ConnectionIds.rotationOf(7)).isZero();
        assertThat(ConnectionIds.rotationOf(20_000)).isEqualTo(20_000 % 7);
        assertThat(ConnectionIds.rotationOf(-1)).isEqualTo(6);
    }

    @Test
    void lengthMustLeaveEightRandomBytes() {
        assertThat(ConnectionIds.of(new byte[4], 14).nonceLength()).isEqualTo(8);
        assertThat(ConnectionIds.of(new byte[0], 10).nonceLength()).isEqualTo(8);
        assertThatThrownBy(() -> ConnectionIds.of(new byte[4], 13))
                .hasMessage("connection-id-length: 13 (expected: 14..20 with a 4-byte server id, leaving at least 8 "
                        + "random bytes)");
        assertThatThrownBy(() -> ConnectionIds.of(new byte[0], 21))
                .hasMessageStartingWith("connection-id-length: 21 (expected: 10..20");
        assertThatThrownBy(() -> ConnectionIds.of(new byte[5]))
                .hasMessage("server-id: 0000000000 is 5 bytes (expected: 0..4 bytes)");
    }

    @Test
    void parsesServerIdsInHexAndDecimal() {
        assertThat(ConnectionIds.parseServerId("")).isEmpty();
        assertThat(ConnectionIds.parseServerId("0x00a1")).containsExactly(0x00, 0xa1);
        assertThat(ConnectionIds.parseServerId("0XDEADBEEF")).containsExactly(0xde, 0xad, 0xbe, 0xef);
        assertThat(ConnectionIds.parseServerId("7")).containsExactly(7);
        assertThat(ConnectionIds.parseServerId("255")).containsExactly(0xff);
        assertThat(ConnectionIds.parseServerId("256")).containsExactly(0x01, 0x00);
        assertThat(ConnectionIds.parseServerId("4294967295")).containsExactly(0xff, 0xff, 0xff, 0xff);
        for (String bad : new String[] {"0x1", "0x", "0x0102030405", "-1", "4294967296", "abc", "0xzz"}) {
            assertThatThrownBy(() -> ConnectionIds.parseServerId(bad))
                    .as(bad)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("server-id: " + bad + " (expected: 0x followed by 2, 4, 6 or 8 hex digits, or a "
                            + "decimal number 0..4294967295)");
        }
    }

    @Test
    void nettyGeneratorIssuesRandomFixedLengthIdsForItsSlot() {
        ConnectionIds ids = ConnectionIds.of(new byte[] {0x42});
        AtomicInteger rotation = new AtomicInteger(3);
        QuicConnectionIdGenerator generator = ids.generator(5, rotation::get);
        assertThat(generator.isIdempotent()).isFalse();
        assertThat(generator.maxConnectionIdLength()).isEqualTo(20);

        ByteBuffer input = ByteBuffer.wrap(new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
        Set<ByteBuffer> seen = new HashSet<>();
        for (int i = 0; i < 1000; i++) {
            ByteBuffer id = switch (i % 3) {
                case 0 -> generator.newId(20);
                case 1 -> generator.newId(input.duplicate(), 20);
                default -> generator.newId(input.duplicate(), input.duplicate(), 20);
            };
            assertThat(id.remaining()).isEqualTo(20);
            assertThat(ids.slot(id)).isEqualTo(5);
            assertThat(ids.serverId(id)).containsExactly(0x42);
            assertThat(ConnectionIds.rotation(id)).isEqualTo(3);
            seen.add(id);
        }
        assertThat(seen).as("same input never yields the same id").hasSize(1000);

        rotation.set(4); // the key epoch moved on
        assertThat(ConnectionIds.rotation(generator.newId(20))).isEqualTo(4);
    }

    @Test
    void nettyGeneratorRefusesAnotherLength() {
        QuicConnectionIdGenerator generator = ConnectionIds.of(new byte[0]).generator(0, () -> 0);
        assertThatThrownBy(() -> generator.newId(ByteBuffer.allocate(8), ByteBuffer.allocate(8), 16))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("connection id length: 16 (expected: 20; configure the QUIC codec with "
                        + "localConnectionIdLength(20))");
    }
}
