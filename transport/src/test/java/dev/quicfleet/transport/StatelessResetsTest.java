package dev.quicfleet.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class StatelessResetsTest {

    private static final HexFormat HEX = HexFormat.of();
    private static final byte[] KEY_A = new byte[32];
    private static final byte[] KEY_B = new byte[32];

    static {
        for (int i = 0; i < 32; i++) {
            KEY_A[i] = (byte) i;
            KEY_B[i] = (byte) (0x80 + i);
        }
    }

    private final ConnectionIds ids = ConnectionIds.of(HEX.parseHex("a1b2"));
    private final Map<Integer, byte[]> keys = new HashMap<>(Map.of(5, KEY_A, 6, KEY_B));
    private final StatelessResets resets = new StatelessResets(ids, keys::get, new SplittableRandom(42));

    @Test
    void tokenIsTheFirst16BytesOfHmacSha256OfTheConnectionId() {
        // Known answer from: printf b3a1...ff | xxd -r -p | openssl dgst -sha256 -mac HMAC -macopt hexkey:0001..1f
        byte[] cid = HEX.parseHex("b3a1b203f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
        assertThat(HEX.formatHex(StatelessResets.token(KEY_A, ByteBuffer.wrap(cid))))
                .isEqualTo("101a54bedc9bc3659eec3d196c1a3a00");
        // rotation bits of 0xb3 are 5 -> KEY_A
        assertThat(resets.token(ByteBuffer.wrap(cid))).isEqualTo(StatelessResets.token(KEY_A, ByteBuffer.wrap(cid)));
    }

    @Test
    void tokenIsStableForOneKeyAndIdAndDiffersOtherwise() {
        byte[] cid = ids.newId(5, 1);
        byte[] other = ids.newId(5, 1);
        byte[] token = resets.token(ByteBuffer.wrap(cid));
        assertThat(token).hasSize(16);
        assertThat(new StatelessResets(ids, keys::get).token(ByteBuffer.wrap(cid)))
                .as("another worker or host with the same keys").isEqualTo(token);
        assertThat(resets.token(ByteBuffer.wrap(other))).isNotEqualTo(token);
        assertThat(StatelessResets.token(KEY_B, ByteBuffer.wrap(cid))).isNotEqualTo(token);
    }

    @Test
    void theRotationCodepointPicksTheKey() {
        byte[] nonce = new byte[ids.nonceLength()];
        byte[] underFive = ids.encode(5, 0, nonce);
        byte[] underSix = ids.encode(6, 0, nonce);
        assertThat(resets.token(ByteBuffer.wrap(underFive)))
                .isEqualTo(StatelessResets.token(KEY_A, ByteBuffer.wrap(underFive)));
        assertThat(resets.token(ByteBuffer.wrap(underSix)))
                .isEqualTo(StatelessResets.token(KEY_B, ByteBuffer.wrap(underSix)));
        assertThat(resets.token(ByteBuffer.wrap(ids.encode(0, 0, nonce)))).as("no key for 0").isNull();
    }

    @Test
    void nettyGeneratorHandsOutTheSameTokenTheResetCarries() {
        byte[] cid = ids.newId(6, 2);
        ByteBuffer issued = resets.newResetToken(ByteBuffer.wrap(cid));
        byte[] token = new byte[issued.remaining()];
        issued.get(token);
        byte[] reset = resets.respondTo(ByteBuffer.wrap(shortHeader(cid, 1200)));
        assertThat(reset).isNotNull();
        assertThat(Arrays.copyOfRange(reset, reset.length - 16, reset.length)).isEqualTo(token);
    }

    @Test
    void nettyGeneratorFallsBackToARandomTokenWithoutAKey() {
        byte[] cid = ids.newId(0, 0); // no key for codepoint 0
        ByteBuffer first = resets.newResetToken(ByteBuffer.wrap(cid));
        ByteBuffer second = resets.newResetToken(ByteBuffer.wrap(cid));
        assertThat(first.remaining()).isEqualTo(16);
        assertThat(first).isNotEqualTo(second);
    }

    @Test
    void resetLooksLikeAShortHeaderAndIsShorterThanItsTrigger() {
        byte[] cid = ids.newId(5, 0);
        byte[] token = resets.token(ByteBuffer.wrap(cid));
        Set<Integer> lengths = new HashSet<>();
        Set<Integer> firstBytes = new HashSet<>();
        for (int trigger : new int[] {22, 30, 43, 44, 100, 1200, 1350}) {
            for (int i = 0; i < 50; i++) {
                byte[] reset = resets.respondTo(ByteBuffer.wrap(shortHeader(cid, trigger)));
                assertThat(reset).as("trigger %d", trigger).isNotNull();
                assertThat(reset.length).as("trigger %d", trigger)
                        .isGreaterThanOrEqualTo(21).isLessThan(trigger);
                if (trigger <= 43) {
                    assertThat(reset.length).isEqualTo(trigger - 1);
                } else {
                    assertThat(reset.length).isGreaterThanOrEqualTo(43);
                }
                assertThat(reset[0] & 0xC0).as("0b01 form bits").isEqualTo(0x40);
                assertThat(Arrays.copyOfRange(reset, reset.length - 16, reset.length)).isEqualTo(token);
                lengths.add(reset.length);
                firstBytes.add(reset[0] & 0x3F);
            }
        }
        assertThat(lengths).as("sizes vary above 43 bytes").hasSizeGreaterThan(20);
        assertThat(firstBytes).as("the other six bits are random").hasSizeGreaterThan(20);
    }

    @Test
    void noResetForWhatMustNotBeAnswered() {
        byte[] cid = ids.newId(5, 0);
        assertThat(resets.respondTo(ByteBuffer.wrap(shortHeader(cid, 21)))).as("21 bytes: no smaller reset").isNull();
        assertThat(resets.respondTo(ByteBuffer.wrap(shortHeader(cid, 15)))).as("DCID cut short").isNull();
        byte[] longHeader = shortHeader(cid, 1200);
        longHeader[0] = (byte) 0xC0;
        assertThat(resets.respondTo(ByteBuffer.wrap(longHeader))).as("long header").isNull();
        byte[] unroutable = cid.clone();
        unroutable[0] = (byte) (0b111 << 5 | 19);
        assertThat(resets.respondTo(ByteBuffer.wrap(shortHeader(unroutable, 100)))).as("codepoint 7").isNull();
        byte[] foreign = new byte[20];
        foreign[0] = (byte) (5 << 5 | 7); // length bits do not say 20
        assertThat(resets.respondTo(ByteBuffer.wrap(shortHeader(foreign, 100)))).as("not our layout").isNull();
        assertThat(resets.respondTo(ByteBuffer.wrap(shortHeader(ids.newId(0, 0), 100)))).as("no key").isNull();
        byte[] anotherHost = ConnectionIds.of(HEX.parseHex("a1b3")).newId(5, 0);
        assertThat(resets.token(ByteBuffer.wrap(anotherHost))).as("computable...").isNotNull();
        assertThat(resets.respondTo(ByteBuffer.wrap(shortHeader(anotherHost, 100))))
                .as("...but never sent for another host's ID (RFC 9000 §21.11)").isNull();
        assertThat(resets.respondTo(ByteBuffer.allocate(0))).isNull();
    }

    @Test
    void respondToReadsFromThePositionAndLeavesTheBufferAlone() {
        byte[] cid = ids.newId(5, 3);
        byte[] packet = shortHeader(cid, 100);
        ByteBuffer buffer = ByteBuffer.allocate(110);
        buffer.position(10);
        buffer.put(packet).flip().position(10);
        byte[] reset = resets.respondTo(buffer);
        assertThat(buffer.position()).isEqualTo(10);
        assertThat(buffer.remaining()).isEqualTo(100);
        assertThat(Arrays.copyOfRange(reset, reset.length - 16, reset.length))
                .isEqualTo(resets.token(ByteBuffer.wrap(cid)));
    }

    @Test
    void refusesShortKeysAndTokens() {
        assertThatThrownBy(() -> StatelessResets.token(new byte[15], ByteBuffer.allocate(20)))
                .hasMessage("reset key: 15 bytes (expected: at least 16)");
        assertThatThrownBy(() -> StatelessResets.packet(new byte[16], 20, new SplittableRandom(1)))
                .hasMessage("stateless reset length: 20 (expected: at least 21)");
    }

    private static byte[] shortHeader(byte[] cid, int length) {
        byte[] packet = new byte[length];
        new SplittableRandom(length).nextBytes(packet);
        packet[0] = 0x43;
        System.arraycopy(cid, 0, packet, 1, Math.min(cid.length, length - 1));
        return packet;
    }
}
