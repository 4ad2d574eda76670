package dev.quicfleet.ticketcache;

import java.util.Arrays;
import java.util.Objects;

/**
 * The secret material of one rotation epoch: the session-ticket key, the key that authenticates Retry/address
 * tokens, and the key stateless-reset tokens are computed with. Derived from the cluster secret, or random; the same
 * on every worker (and every host sharing the secret) for the same epoch.
 *
 * <p>The arrays are copied in and out; {@link #toString()} shows only the epoch.
 *
 * @param epoch        the rotation epoch (see {@link Rotation#epoch})
 * @param ticketKey    48 bytes: ticket key name, HMAC key, AES key (see {@link TicketKey})
 * @param tokenKey     32-byte HMAC-SHA256 key for Retry/address tokens
 * @param resetKey     32-byte HMAC-SHA256 key for stateless-reset tokens
 */
public record EpochKeys(long epoch, byte[] ticketKey, byte[] tokenKey, byte[] resetKey) {

    /** Length of the token key and of the reset key, in bytes. */
    public static final int MAC_KEY_LENGTH = 32;

    /** Validates lengths and copies the arrays. */
    public EpochKeys {
        ticketKey = copyOf("ticketKey", ticketKey, TicketKey.LENGTH);
        tokenKey = copyOf("tokenKey", tokenKey, MAC_KEY_LENGTH);
        resetKey = copyOf("resetKey", resetKey, MAC_KEY_LENGTH);
    }

    /** A copy of the 48 ticket-key bytes. */
    @Override
    public byte[] ticketKey() {
        return ticketKey.clone();
    }

    /** A copy of the token key. */
    @Override
    public byte[] tokenKey() {
        return tokenKey.clone();
    }

    /** A copy of the reset key. */
    @Override
    public byte[] resetKey() {
        return resetKey.clone();
    }

    /** The session-ticket key of this epoch with the validity {@code rotation} gives it. */
    public TicketKey ticketKey(Rotation rotation) {
        return rotation.ticketKey(epoch, ticketKey);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof EpochKeys other && epoch == other.epoch && Arrays.equals(ticketKey, other.ticketKey)
               && Arrays.equals(tokenKey, other.tokenKey) && Arrays.equals(resetKey, other.resetKey);
    }

    @Override
    public int hashCode() {
        return Long.hashCode(epoch);
    }

    @Override
    public String toString() {
        return "EpochKeys[epoch=" + epoch + "]";
    }

    private static byte[] copyOf(String part, byte[] bytes, int length) {
        Objects.requireNonNull(bytes, part);
        if (bytes.length != length) {
            throw new IllegalArgumentException(part + ": " + bytes.length + " bytes (expected: " + length + ")");
        }
        return bytes.clone();
    }
}
