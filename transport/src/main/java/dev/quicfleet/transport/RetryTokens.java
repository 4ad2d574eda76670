package dev.quicfleet.transport;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.quic.QuicTokenHandler;
import java.net.InetSocketAddress;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Address validation with Retry (RFC 9000 §8.1.2) whose tokens every worker and every host of a cluster accepts:
 * they are authenticated with the token key of the current rotation epoch, which all of them share (the supervisor's
 * shared map, or HKDF from the cluster secret), instead of a per-process key.
 *
 * <p><b>When a Retry is sent</b> is the {@link Mode}: {@code never}; {@code always} (every connection pays one round
 * trip more); {@code auto} (the default): only while {@code retryNeeded} says so — the worker asks for it when its
 * handshakes in progress pass a threshold, the sign of a flood of Initials from spoofed addresses.
 *
 * <p><b>Token</b> (at most {@value #MAX_TOKEN_LENGTH} bytes): {@code 'q'}, the key tag (the low byte of the key's
 * epoch), the issue time (milliseconds since 1970, 8 bytes), a 16-byte MAC, then the client's original destination
 * connection ID — which Netty reads back from the token's end ({@link TokenValidationResult#odcidFromToken}). The MAC
 * is HMAC-SHA256(key, the first 10 bytes, the client's IP address, the original destination connection ID), cut to 16
 * bytes: a token is good only from the address it was sent to (the port may change: NAT rebinding), only for that
 * connection attempt, and only for {@code lifetime} (a Retry round trip, plus clock skew between hosts).
 *
 * <p><b>A token that does not validate</b>: while no Retry would be sent, the Initial is served as if it had no
 * token (a client may carry a NEW_TOKEN token from another server on the same address, RFC 9000 §8.1.3) — unless it
 * has this format, because then it answers one of our Retries, and only a validated connection can complete it (the
 * client expects the Retry's connection IDs in the transport parameters). While a Retry would be sent, it is dropped
 * (Netty cannot answer an Initial that carries a token with a Retry or a close), so a forged token never skips
 * validation.
 *
 * <p>Thread-safe; called on the UDP channel's event loop for Initial packets of new connections only.
 */
public final class RetryTokens implements QuicTokenHandler {

    /** When Retry packets are sent. */
    public enum Mode {
        /** Never: no address validation beyond QUIC's anti-amplification limit. */
        NEVER,
        /** Only while the worker's handshakes in progress pass the threshold. */
        AUTO,
        /** For every new connection. */
        ALWAYS;

        /** The mode named {@code value} ({@code never}, {@code auto}, {@code always}; any case). */
        public static Mode parse(String value) {
            try {
                return valueOf(value.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException | NullPointerException e) {
                throw new IllegalArgumentException("retry: " + value + " (expected: auto, always or never)");
            }
        }

        @Override
        public String toString() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * One token key: {@code tag} (0..255, the low byte of its epoch) names it inside tokens.
     *
     * @param tag the key's tag
     * @param key at least 16 bytes
     */
    public record TokenKey(int tag, byte[] key) {
        /** Validates the tag and the key length. */
        public TokenKey {
            if (tag < 0 || tag > 255) {
                throw new IllegalArgumentException("token key tag: " + tag + " (expected: 0..255)");
            }
            if (key == null || key.length < 16) {
                throw new IllegalArgumentException("token key: " + (key == null ? "null" : key.length + " bytes")
                        + " (expected: at least 16 bytes)");
            }
        }
    }

    /** Longest token written: 26 bytes of header and MAC, and a connection ID of up to 20 bytes. */
    public static final int MAX_TOKEN_LENGTH = 26 + 20;
    /** Default time a Retry token is accepted: a Retry round trip with plenty of room, and clock skew. */
    public static final Duration DEFAULT_LIFETIME = Duration.ofSeconds(10);

    static final byte FORMAT = 'q';
    static final int HEADER = 10;
    static final int MAC_LENGTH = 16;
    private static final String HMAC = "HmacSHA256";

    private final Supplier<List<TokenKey>> keys;
    private final Mode mode;
    private final BooleanSupplier retryNeeded;
    private final Clock clock;
    private final long lifetimeMillis;
    private final Runnable onRetry;

    /**
     * @param keys        the keys at this moment: the first writes tokens, all of them validate (current, next and
     *                    previous epoch); empty while the worker has no keys yet — then no Retry is sent, and tokens
     *                    of our format are refused
     * @param mode        when to send Retry packets
     * @param retryNeeded for {@link Mode#AUTO}: whether the worker is under handshake pressure now
     * @param clock       for issue and expiry times
     * @param lifetime    how long a token is accepted after it was issued (and how far in the future its issue time
     *                    may be: another host's clock)
     * @param onRetry     called for every Retry sent (metrics)
     */
    public RetryTokens(Supplier<List<TokenKey>> keys, Mode mode, BooleanSupplier retryNeeded, Clock clock,
                       Duration lifetime, Runnable onRetry) {
        this.keys = keys;
        this.mode = mode;
        this.retryNeeded = retryNeeded;
        this.clock = clock;
        this.lifetimeMillis = lifetime.toMillis();
        this.onRetry = onRetry;
    }

    /** Whether an Initial without a valid token is answered with a Retry at this moment. */
    boolean retrying() {
        return switch (mode) {
            case NEVER -> false;
            case ALWAYS -> true;
            case AUTO -> retryNeeded.getAsBoolean();
        };
    }

    @Override
    public boolean writeToken(ByteBuf out, ByteBuf dcid, InetSocketAddress address) {
        if (!retrying() || dcid.readableBytes() > MAX_TOKEN_LENGTH - HEADER - MAC_LENGTH) {
            return false;
        }
        List<TokenKey> now = keys.get();
        if (now.isEmpty()) {
            return false; // fail open on availability: without a key no worker could check the token
        }
        TokenKey key = now.getFirst();
        byte[] odcid = new byte[dcid.readableBytes()];
        dcid.getBytes(dcid.readerIndex(), odcid);
        byte[] header = header(key.tag(), clock.millis());
        out.writeBytes(header).writeBytes(mac(key.key(), header, address, odcid)).writeBytes(odcid);
        onRetry.run();
        return true;
    }

    @Override
    public TokenValidationResult validateToken(ByteBuf token, InetSocketAddress address, ByteBuf dcid) {
        boolean ours = ours(token);
        if (ours && valid(token, address)) {
            return TokenValidationResult.odcidFromToken(HEADER + MAC_LENGTH);
        }
        // Not ours (another server's NEW_TOKEN on this address): like no token at all, unless a Retry is due.
        return !ours && !retrying() ? TokenValidationResult.odcidFromDestinationConnectionId()
                : TokenValidationResult.invalidToken();
    }

    @Override
    public int validateToken(ByteBuf token, InetSocketAddress address) {
        return ours(token) && valid(token, address) ? HEADER + MAC_LENGTH : -1;
    }

    @Override
    public int maxTokenLength() {
        return MAX_TOKEN_LENGTH;
    }

    /** Whether {@code token} has this class's format (it may still be forged or expired). */
    private static boolean ours(ByteBuf token) {
        int length = token.readableBytes();
        return length >= HEADER + MAC_LENGTH && length <= MAX_TOKEN_LENGTH
               && token.getByte(token.readerIndex()) == FORMAT;
    }

    private boolean valid(ByteBuf token, InetSocketAddress address) {
        int start = token.readerIndex();
        int tag = token.getUnsignedByte(start + 1);
        long issued = token.getLong(start + 2);
        long now = clock.millis();
        if (issued < now - lifetimeMillis || issued > now + lifetimeMillis) {
            return false;
        }
        for (TokenKey key : keys.get()) {
            if (key.tag() == tag) {
                byte[] header = new byte[HEADER];
                token.getBytes(start, header);
                byte[] odcid = new byte[token.readableBytes() - HEADER - MAC_LENGTH];
                token.getBytes(start + HEADER + MAC_LENGTH, odcid);
                byte[] mac = new byte[MAC_LENGTH];
                token.getBytes(start + HEADER, mac);
                return MessageDigest.isEqual(mac, mac(key.key(), header, address, odcid));
            }
        }
        return false;
    }

    static byte[] header(int tag, long issuedMillis) {
        byte[] header = new byte[HEADER];
        header[0] = FORMAT;
        header[1] = (byte) tag;
        for (int i = 0; i < Long.BYTES; i++) {
            header[2 + i] = (byte) (issuedMillis >>> (56 - 8 * i));
        }
        return header;
    }

    static byte[] mac(byte[] key, byte[] header, InetSocketAddress address, byte[] odcid) {
        try {
            Mac mac = Mac.getInstance(HMAC);
            mac.init(new SecretKeySpec(key, HMAC));
            mac.update(header);
            mac.update(address.getAddress().getAddress());
            mac.update(odcid);
            byte[] full = mac.doFinal();
            byte[] cut = new byte[MAC_LENGTH];
            System.arraycopy(full, 0, cut, 0, MAC_LENGTH);
            return cut;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is not available in this JVM", e);
        }
    }
}
