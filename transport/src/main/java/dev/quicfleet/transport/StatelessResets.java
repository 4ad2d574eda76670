package dev.quicfleet.transport;

import io.netty.handler.codec.quic.QuicResetTokenGenerator;
import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import java.util.function.IntFunction;
import java.util.random.RandomGenerator;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stateless reset tokens and packets (RFC 9000 §10.3) that every worker and every host of a cluster derives alike,
 * so a client whose packets reach a process that has no state for its connection learns promptly that the connection
 * is gone, instead of waiting for its idle timeout.
 *
 * <p><b>Token</b> = the first 16 bytes of HMAC-SHA256(reset key, connection ID). The reset key is chosen by the
 * connection ID's config rotation codepoint (its three high bits, {@link ConnectionIds#rotation}), which the issuer
 * set to its key epoch mod 7: {@code keyForRotation} maps a codepoint to the reset key of the newest epoch still in
 * use with that codepoint, or {@code null}. The token is therefore the same whoever computes it — the worker that
 * hands it to the client in NEW_CONNECTION_ID ({@link #newResetToken}) and whichever worker or host later answers
 * a packet for that ID ({@link #respondTo}).
 *
 * <p><b>Packet</b>: the short-header form {@code 0b01xxxxxx}, unpredictable bytes, the token in the last 16 bytes;
 * at least {@value #MIN_PACKET_LENGTH} bytes and always shorter than the packet that triggered it, so two endpoints
 * that both lost state cannot reset each other forever (§10.3.3): a trigger of 43 bytes or less gets a reset one
 * byte shorter, a longer one a reset of random length between 43 bytes and one byte less than the trigger, so resets
 * do not stand out by size.
 *
 * <p>What this class does not decide: whether the connection is alive on another worker of this host (the caller
 * must know: with steering on, only the slot's own worker sees its packets; with steering off, a worker must not
 * reset IDs of other slots), and how often to answer ({@link ResetRateLimiter}). It is thread-safe.
 */
public final class StatelessResets implements QuicResetTokenGenerator {

    /** Length of a stateless reset token. */
    public static final int TOKEN_LENGTH = 16;
    /** Shortest stateless reset: 5 bytes that look like a short header (38 unpredictable bits) plus the token. */
    public static final int MIN_PACKET_LENGTH = 21;
    /** Triggers up to this length get a reset exactly one byte shorter (RFC 9000 §10.3). */
    static final int SMALL_TRIGGER = 43;
    /** Shortest key accepted: 128 bits. */
    static final int MIN_KEY_LENGTH = 16;

    private static final Logger log = LoggerFactory.getLogger(StatelessResets.class);
    private static final String HMAC = "HmacSHA256";

    private final ConnectionIds ids;
    private final IntFunction<byte[]> keyForRotation;
    private final RandomGenerator random;
    private final BooleanSupplier keysLoaded;
    private final AtomicBoolean warnedMissingKey = new AtomicBoolean();

    /**
     * Resets for connection IDs of layout {@code ids}, with the reset key of each config rotation codepoint from
     * {@code keyForRotation} (called for every token; it should read an in-memory key ring, and return {@code null}
     * when no live epoch uses that codepoint).
     */
    public StatelessResets(ConnectionIds ids, IntFunction<byte[]> keyForRotation) {
        this(ids, keyForRotation, () -> true);
    }

    /**
     * Like {@link #StatelessResets(ConnectionIds, IntFunction)}, for keys that arrive after start: while
     * {@code keysLoaded} is false a missing key is expected (random tokens, no warning).
     */
    public StatelessResets(ConnectionIds ids, IntFunction<byte[]> keyForRotation, BooleanSupplier keysLoaded) {
        this(ids, keyForRotation, new SecureRandom(), keysLoaded);
    }

    StatelessResets(ConnectionIds ids, IntFunction<byte[]> keyForRotation, RandomGenerator random) {
        this(ids, keyForRotation, random, () -> true);
    }

    private StatelessResets(ConnectionIds ids, IntFunction<byte[]> keyForRotation, RandomGenerator random,
                            BooleanSupplier keysLoaded) {
        this.ids = ids;
        this.keyForRotation = keyForRotation;
        this.random = random;
        this.keysLoaded = keysLoaded;
    }

    /**
     * The reset token of {@code cid} (its remaining bytes; the buffer is not changed) under {@code key}: the first
     * 16 bytes of HMAC-SHA256(key, cid).
     *
     * @throws IllegalArgumentException when the key is shorter than 16 bytes
     */
    public static byte[] token(byte[] key, ByteBuffer cid) {
        if (key.length < MIN_KEY_LENGTH) {
            throw new IllegalArgumentException("reset key: " + key.length + " bytes (expected: at least "
                    + MIN_KEY_LENGTH + ")");
        }
        try {
            Mac mac = Mac.getInstance(HMAC);
            mac.init(new SecretKeySpec(key, HMAC));
            mac.update(cid.duplicate());
            byte[] token = new byte[TOKEN_LENGTH];
            System.arraycopy(mac.doFinal(), 0, token, 0, TOKEN_LENGTH);
            return token;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is not available in this JVM", e);
        }
    }

    /**
     * The reset token of {@code cid} under the key its rotation codepoint names, or {@code null} when there is no
     * such key (codepoint 0b111, or an epoch no longer kept).
     */
    public byte[] token(ByteBuffer cid) {
        if (!cid.hasRemaining()) {
            return null;
        }
        int rotation = ConnectionIds.rotation(cid);
        byte[] key = rotation == ConnectionIds.UNROUTABLE_ROTATION ? null : keyForRotation.apply(rotation);
        return key == null ? null : token(key, cid);
    }

    /**
     * The token Netty advertises with each new connection ID it issues. Without a key for the ID's codepoint (the
     * key ring lost the current epoch: a configuration error) it returns a random token, so the connection still
     * works but cannot be reset statelessly, and warns once.
     */
    @Override
    public ByteBuffer newResetToken(ByteBuffer cid) {
        byte[] token = token(cid);
        if (token == null) {
            if (keysLoaded.getAsBoolean() && warnedMissingKey.compareAndSet(false, true)) {
                log.warn("no stateless reset key for config rotation {}: issuing random reset tokens, so clients of "
                        + "this worker cannot be reset statelessly (check the reset key ring)",
                        cid.hasRemaining() ? ConnectionIds.rotation(cid) : -1);
            }
            token = new byte[TOKEN_LENGTH];
            random.nextBytes(token);
        }
        return ByteBuffer.wrap(token);
    }

    /**
     * The stateless reset to send in answer to {@code packet} (one UDP payload, its remaining bytes; not changed), or
     * {@code null} when none may be sent: a long header (whose DCID the client chose, so it has no token for it), a
     * packet too short to answer with a smaller reset, a DCID not of this cluster's layout, a DCID with another
     * host's server id, or no key for its codepoint.
     *
     * <p>Another host's IDs get no reset although this host could compute their tokens: RFC 9000 §21.11 forbids
     * resetting an ID whose connection could be alive on any endpoint sharing the key, and an attacker who can
     * steer a packet carrying a victim's ID to this host (a different anycast route, a spoofed source) would
     * otherwise receive the victim's valid reset token. Hosts that share reset keys must therefore have distinct
     * server ids.
     */
    public byte[] respondTo(ByteBuffer packet) {
        int length = packet.remaining();
        if (length < 1 + ids.length() || length <= MIN_PACKET_LENGTH) {
            return null;
        }
        int first = packet.get(packet.position()) & 0xFF;
        if ((first & 0x80) != 0) {
            return null;
        }
        ByteBuffer dcid = packet.slice(packet.position() + 1, ids.length());
        if (!ids.isIssuedByThisHost(dcid)) {
            return null;
        }
        byte[] token = token(dcid);
        return token == null ? null : packet(token, resetLength(length, random), random);
    }

    /**
     * How long a reset answering a {@code triggerLength}-byte packet is: one byte shorter for triggers of up to 43
     * bytes, random in 43..triggerLength-1 above; 0 when the trigger is too short to answer (21 bytes or less).
     */
    static int resetLength(int triggerLength, RandomGenerator random) {
        if (triggerLength <= MIN_PACKET_LENGTH) {
            return 0;
        }
        if (triggerLength <= SMALL_TRIGGER) {
            return triggerLength - 1;
        }
        return random.nextInt(SMALL_TRIGGER, triggerLength);
    }

    /** A stateless reset of {@code length} bytes carrying {@code token}: {@code 0b01} + unpredictable bits + token. */
    static byte[] packet(byte[] token, int length, RandomGenerator random) {
        if (token.length != TOKEN_LENGTH) {
            throw new IllegalArgumentException("token: " + token.length + " bytes (expected: " + TOKEN_LENGTH + ")");
        }
        if (length < MIN_PACKET_LENGTH) {
            throw new IllegalArgumentException("stateless reset length: " + length + " (expected: at least "
                    + MIN_PACKET_LENGTH + ")");
        }
        byte[] reset = new byte[length];
        random.nextBytes(reset);
        reset[0] = (byte) (0x40 | reset[0] & 0x3F);
        System.arraycopy(token, 0, reset, length - TOKEN_LENGTH, TOKEN_LENGTH);
        return reset;
    }
}
