package dev.quicfleet.transport;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.quicfleet.transport.RetryTokens.Mode;
import dev.quicfleet.transport.RetryTokens.TokenKey;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.quic.QuicTokenHandler.TokenValidationResult;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.List;

/**
 * Fuzzes Retry token validation ({@link RetryTokens}), which runs on every Initial that carries a token — bytes any
 * peer chooses. Contract: no exception; the token buffer's indices untouched; a token validates only as written by
 * {@code writeToken} for the same IP address (any port), within its lifetime, byte for byte — never for another
 * address, after any change of one byte, or once expired; a validated token names its original destination connection
 * ID inside the token. See docs/FUZZING.md.
 */
class RetryTokensFuzzTest {

    private static final Instant NOW = Instant.parse("2026-11-21T12:00:00Z");
    private static final Duration LIFETIME = Duration.ofSeconds(10);
    private static final List<TokenKey> KEYS = List.of(new TokenKey(7, filled(32, 1)), new TokenKey(8, filled(32, 2)));

    @FuzzTest(maxDuration = "10s")
    void validatesOnlyItsOwnTokenForTheSameAddress(FuzzedDataProvider data) throws UnknownHostException {
        Mode mode = data.pickValue(Mode.values());
        InetSocketAddress client = address(data);
        long skew = data.consumeLong(-2 * LIFETIME.toMillis(), 2 * LIFETIME.toMillis());
        RetryTokens issuer = tokens(mode, NOW);
        RetryTokens validator = tokens(mode, NOW.plusMillis(skew));
        boolean inLifetime = Math.abs(skew) <= LIFETIME.toMillis();

        // 1. Whatever a peer sends as a token: never an exception, never valid (it cannot know the key).
        byte[] forged = data.consumeBytes(data.consumeInt(0, 64));
        assertNeverValid(validator, forged, client);

        // 2. A token we wrote: valid from the same IP (the port may change) within the lifetime, and only then.
        byte[] odcid = data.consumeBytes(data.consumeInt(0, 24));
        ByteBuf written = Unpooled.buffer();
        boolean wrote = issuer.writeToken(written, Unpooled.wrappedBuffer(odcid), client);
        if (!wrote) {
            assertThat(written.readableBytes()).isZero();
            return;
        }
        byte[] token = ByteBufUtil.getBytes(written);
        assertThat(token.length).isEqualTo(26 + odcid.length).isLessThanOrEqualTo(issuer.maxTokenLength());
        InetSocketAddress rebound = new InetSocketAddress(client.getAddress(), data.consumeInt(1, 65535));
        assertThat(validator.validateToken(Unpooled.wrappedBuffer(token), rebound))
                .isEqualTo(inLifetime ? 26 : -1);
        if (inLifetime) {
            TokenValidationResult result = validator.validateToken(Unpooled.wrappedBuffer(token), rebound,
                    Unpooled.wrappedBuffer(new byte[20]));
            assertThat(result.isValid()).isTrue();
            assertThat(Arrays.copyOfRange(token, 26, token.length)).isEqualTo(odcid);
        }

        // Never from another address.
        InetSocketAddress other = address(data);
        if (!other.getAddress().equals(client.getAddress())) {
            assertNeverValid(validator, token, other);
        }
        // Never with one byte changed.
        byte[] changed = token.clone();
        int at = data.consumeInt(0, changed.length - 1);
        changed[at] ^= (byte) data.consumeInt(1, 255);
        assertNeverValid(validator, changed, rebound);
        // Never with bytes cut off or appended (another original connection ID).
        byte[] cut = Arrays.copyOf(token, data.consumeInt(0, token.length - 1));
        assertNeverValid(validator, cut, rebound);
        byte[] longer = Arrays.copyOf(token, token.length + data.consumeInt(1, 30));
        assertNeverValid(validator, longer, rebound);
    }

    /** Validates {@code token} (inside a larger buffer, as Netty hands it over) expecting refusal, by both methods. */
    private static void assertNeverValid(RetryTokens tokens, byte[] token, InetSocketAddress address) {
        ByteBuf buf = Unpooled.buffer(token.length + 8);
        buf.writeBytes(new byte[] {'q', 'q', 'q', 'q'}).writeBytes(token).writeBytes(new byte[] {'q', 1, 2, 3});
        ByteBuf slice = buf.slice(4, token.length);
        assertThat(tokens.validateToken(slice, address)).isEqualTo(-1);
        TokenValidationResult result = tokens.validateToken(slice, address, Unpooled.wrappedBuffer(new byte[8]));
        if (result.isValid()) {
            // Only "not ours, no Retry due": served like an Initial without a token, never as address-validated.
            assertThat(tokens.retrying()).isFalse();
            assertThat(token.length >= 26 && token.length <= RetryTokens.MAX_TOKEN_LENGTH && token[0] == 'q')
                    .as("a token of our format that does not validate is refused, never served").isFalse();
        }
        assertThat(slice.readerIndex()).isZero();
        assertThat(slice.writerIndex()).isEqualTo(token.length);
    }

    private static InetSocketAddress address(FuzzedDataProvider data) throws UnknownHostException {
        byte[] ip = data.consumeBytes(data.consumeBoolean() ? 4 : 16);
        ip = Arrays.copyOf(ip, ip.length <= 4 ? 4 : 16);
        return new InetSocketAddress(InetAddress.getByAddress(ip), data.consumeInt(1, 65535));
    }

    private static RetryTokens tokens(Mode mode, Instant now) {
        return new RetryTokens(() -> KEYS, mode, () -> true, Clock.fixed(now, ZoneOffset.UTC), LIFETIME, () -> { });
    }

    private static byte[] filled(int length, int value) {
        byte[] bytes = new byte[length];
        Arrays.fill(bytes, (byte) value);
        return bytes;
    }
}
