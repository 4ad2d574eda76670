package dev.quicfleet.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quicfleet.transport.RetryTokens.Mode;
import dev.quicfleet.transport.RetryTokens.TokenKey;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.quic.QuicTokenHandler.TokenValidationResult;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class RetryTokensTest {

    private static final HexFormat HEX = HexFormat.of();
    private static final TokenKey KEY_7 = new TokenKey(7, filled(32, 1));
    private static final TokenKey KEY_8 = new TokenKey(8, filled(32, 2));
    private static final InetSocketAddress CLIENT = new InetSocketAddress("127.0.0.5", 40000);
    private static final byte[] ODCID = HEX.parseHex("0102030405060708090a0b0c0d0e0f1011121314");

    private final MutableClock clock = new MutableClock(Instant.parse("2026-11-21T12:00:00Z"));
    private final List<TokenKey> keys = new ArrayList<>(List.of(KEY_7, KEY_8));
    private final AtomicBoolean pressure = new AtomicBoolean();
    private final AtomicInteger retries = new AtomicInteger();

    private RetryTokens tokens(Mode mode) {
        return new RetryTokens(() -> List.copyOf(keys), mode, pressure::get, clock, Duration.ofSeconds(10),
                retries::incrementAndGet);
    }

    @Test
    void alwaysWritesATokenThatValidatesFromTheSameAddressAndCarriesTheOriginalConnectionId() {
        RetryTokens tokens = tokens(Mode.ALWAYS);
        ByteBuf token = write(tokens, CLIENT);
        assertThat(token.readableBytes()).isEqualTo(26 + ODCID.length).isLessThanOrEqualTo(tokens.maxTokenLength());
        assertThat(token.getByte(0)).isEqualTo((byte) 'q');
        assertThat((int) token.getUnsignedByte(1)).isEqualTo(7); // the first key writes
        assertThat(retries).hasValue(1);

        TokenValidationResult result = tokens.validateToken(token.slice(), new InetSocketAddress("127.0.0.5", 1),
                Unpooled.wrappedBuffer(new byte[20]));
        assertThat(result.isValid()).isTrue(); // another port: NAT rebinding between Retry and Initial is fine
        assertThat(tokens.validateToken(token.slice(), CLIENT)).isEqualTo(26);
        assertThat(HEX.formatHex(ByteBufUtil.getBytes(token, 26, token.readableBytes() - 26)))
                .isEqualTo(HEX.formatHex(ODCID));
    }

    @Test
    void anotherWorkerOrHostWithTheSameKeysAcceptsTheToken() {
        ByteBuf token = write(tokens(Mode.ALWAYS), CLIENT);
        // the next epoch has begun there: its key list starts with 8, but still holds 7
        RetryTokens elsewhere = new RetryTokens(() -> List.of(KEY_8, KEY_7), Mode.ALWAYS, () -> true, clock,
                Duration.ofSeconds(10), () -> { });
        assertThat(elsewhere.validateToken(token.slice(), CLIENT)).isEqualTo(26);
        RetryTokens otherCluster = new RetryTokens(() -> List.of(new TokenKey(7, filled(32, 9))), Mode.ALWAYS,
                () -> true, clock, Duration.ofSeconds(10), () -> { });
        assertThat(otherCluster.validateToken(token.slice(), CLIENT)).isEqualTo(-1);
    }

    @Test
    void refusesAnotherAddressATamperedTokenAnExpiredOneAndARetiredKey() {
        RetryTokens tokens = tokens(Mode.ALWAYS);
        ByteBuf token = write(tokens, CLIENT);
        assertThat(tokens.validateToken(token.slice(), new InetSocketAddress("127.0.0.6", 40000))).isEqualTo(-1);

        for (int i = 0; i < token.readableBytes(); i++) {
            ByteBuf tampered = Unpooled.copiedBuffer(token);
            tampered.setByte(i, tampered.getByte(i) ^ 0x01);
            assertThat(tokens.validateToken(tampered, CLIENT)).as("byte %d flipped", i).isEqualTo(-1);
        }
        assertThat(tokens.validateToken(token.slice(0, token.readableBytes() - 1), CLIENT)).isEqualTo(-1);

        clock.advance(Duration.ofSeconds(10));
        assertThat(tokens.validateToken(token.slice(), CLIENT)).isEqualTo(26);
        clock.advance(Duration.ofMillis(1));
        assertThat(tokens.validateToken(token.slice(), CLIENT)).as("expired").isEqualTo(-1);

        clock.advance(Duration.ofSeconds(-10));
        keys.removeFirst(); // epoch 7 no longer accepted
        assertThat(tokens.validateToken(token.slice(), CLIENT)).isEqualTo(-1);
    }

    @Test
    void aTokenFromTheFutureIsAcceptedOnlyWithinTheLifetimeForClockSkew() {
        ByteBuf token = write(tokens(Mode.ALWAYS), CLIENT);
        clock.advance(Duration.ofSeconds(-10));
        assertThat(tokens(Mode.ALWAYS).validateToken(token.slice(), CLIENT)).isEqualTo(26);
        clock.advance(Duration.ofMillis(-1));
        assertThat(tokens(Mode.ALWAYS).validateToken(token.slice(), CLIENT)).isEqualTo(-1);
    }

    @Test
    void autoRetriesOnlyUnderPressureAndNeverWritesNoToken() {
        RetryTokens auto = tokens(Mode.AUTO);
        assertThat(auto.writeToken(Unpooled.buffer(), Unpooled.wrappedBuffer(ODCID), CLIENT)).isFalse();
        pressure.set(true);
        assertThat(auto.writeToken(Unpooled.buffer(), Unpooled.wrappedBuffer(ODCID), CLIENT)).isTrue();
        assertThat(tokens(Mode.NEVER).writeToken(Unpooled.buffer(), Unpooled.wrappedBuffer(ODCID), CLIENT)).isFalse();
        assertThat(retries).hasValue(1);
    }

    @Test
    void withoutKeysNoRetryIsSentAndOurTokensAreRefused() {
        ByteBuf token = write(tokens(Mode.ALWAYS), CLIENT);
        keys.clear();
        RetryTokens tokens = tokens(Mode.ALWAYS);
        assertThat(tokens.writeToken(Unpooled.buffer(), Unpooled.wrappedBuffer(ODCID), CLIENT)).isFalse();
        assertThat(tokens.validateToken(token.slice(), CLIENT, Unpooled.wrappedBuffer(ODCID)).isValid()).isFalse();
    }

    @Test
    void aForeignTokenCountsAsNoTokenUnlessARetryIsDueThenItIsDropped() {
        ByteBuf foreign = Unpooled.wrappedBuffer(HEX.parseHex("00112233445566778899aabbccddeeff0011223344"));
        ByteBuf dcid = Unpooled.wrappedBuffer(ODCID);
        assertThat(tokens(Mode.NEVER).validateToken(foreign.slice(), CLIENT, dcid).isValid()).isTrue();
        assertThat(tokens(Mode.AUTO).validateToken(foreign.slice(), CLIENT, dcid).isValid()).isTrue();
        pressure.set(true);
        assertThat(tokens(Mode.AUTO).validateToken(foreign.slice(), CLIENT, dcid).isValid()).isFalse();
        assertThat(tokens(Mode.ALWAYS).validateToken(foreign.slice(), CLIENT, dcid).isValid()).isFalse();

        // one of our own that fails is never served as a fresh connection: the client expects Retry parameters
        ByteBuf ours = write(tokens(Mode.ALWAYS), CLIENT);
        pressure.set(false);
        assertThat(tokens(Mode.NEVER).validateToken(ours.slice(), new InetSocketAddress("127.0.0.9", 1), dcid)
                .isValid()).isFalse();
    }

    @Test
    void modesParseAndNameTheChoicesOnError() {
        assertThat(Mode.parse("Auto")).isEqualTo(Mode.AUTO);
        assertThat(Mode.parse("always")).isEqualTo(Mode.ALWAYS);
        assertThat(Mode.ALWAYS).hasToString("always");
        assertThatThrownBy(() -> Mode.parse("sometimes")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("retry: sometimes (expected: auto, always or never)");
        assertThatThrownBy(() -> new TokenKey(256, new byte[32])).hasMessageContaining("0..255");
        assertThatThrownBy(() -> new TokenKey(1, new byte[8])).hasMessageContaining("at least 16 bytes");
    }

    private static ByteBuf write(RetryTokens tokens, InetSocketAddress client) {
        ByteBuf out = Unpooled.buffer(tokens.maxTokenLength());
        assertThat(tokens.writeToken(out, Unpooled.wrappedBuffer(ODCID), client)).isTrue();
        return out;
    }

    private static byte[] filled(int length, int value) {
        byte[] bytes = new byte[length];
        java.util.Arrays.fill(bytes, (byte) value);
        return bytes;
    }

    private static final class MutableClock extends Clock {
        private Instant now;

        MutableClock(Instant now) {
            this.now = now;
        }

        void advance(Duration by) {
            now = now.plus(by);
        }

        @Override
        public java.time.ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }
}
