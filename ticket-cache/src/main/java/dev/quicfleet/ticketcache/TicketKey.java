package dev.quicfleet.ticketcache;

import java.time.Instant;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;

/**
 * One TLS session-ticket key in the layout BoringSSL (and Netty's {@code SslSessionTicketKey}) uses: a 16-byte name
 * that is sent in clear inside every ticket so the server can pick the key again, a 16-byte HMAC key and a 16-byte
 * AES key.
 *
 * <p>{@code notBefore} is when the key starts encrypting new tickets; {@code notAfter} is when the last ticket it may
 * have encrypted expires, after which it must not decrypt anything (TLS 1.3 ticket lifetime is bounded by retiring
 * keys, not by BoringSSL's session timeout).
 *
 * <p>{@link #toString()} shows the name (public: it travels in every ticket) and the validity, never key bytes.
 * The arrays are copied in and out, so a {@code TicketKey} cannot be changed after construction.
 *
 * @param name      16-byte key name
 * @param hmacKey   16-byte HMAC-SHA256 key
 * @param aesKey    16-byte AES-128 key
 * @param notBefore the key encrypts from this instant on
 * @param notAfter  the key decrypts until this instant (exclusive)
 */
public record TicketKey(byte[] name, byte[] hmacKey, byte[] aesKey, Instant notBefore, Instant notAfter) {

    /** Length of each of the three parts, in bytes. */
    public static final int PART_LENGTH = 16;

    /** Length of a whole key (name, HMAC key, AES key), in bytes. */
    public static final int LENGTH = 3 * PART_LENGTH;

    /** Validates lengths and the validity interval and copies the arrays. */
    public TicketKey {
        name = copyOf("name", name);
        hmacKey = copyOf("hmacKey", hmacKey);
        aesKey = copyOf("aesKey", aesKey);
        Objects.requireNonNull(notBefore, "notBefore");
        Objects.requireNonNull(notAfter, "notAfter");
        if (!notAfter.isAfter(notBefore)) {
            throw new IllegalArgumentException("notAfter: " + notAfter + " (expected: after notBefore " + notBefore
                    + ")");
        }
    }

    /** A key from its 48-byte wire form: name, HMAC key, AES key. */
    static TicketKey of(byte[] material, Instant notBefore, Instant notAfter) {
        if (material.length != LENGTH) {
            throw new IllegalArgumentException("ticket key: " + material.length + " bytes (expected: " + LENGTH + ")");
        }
        return new TicketKey(Arrays.copyOfRange(material, 0, PART_LENGTH),
                Arrays.copyOfRange(material, PART_LENGTH, 2 * PART_LENGTH),
                Arrays.copyOfRange(material, 2 * PART_LENGTH, LENGTH), notBefore, notAfter);
    }

    /** A copy of the key name. */
    @Override
    public byte[] name() {
        return name.clone();
    }

    /** A copy of the HMAC key. */
    @Override
    public byte[] hmacKey() {
        return hmacKey.clone();
    }

    /** A copy of the AES key. */
    @Override
    public byte[] aesKey() {
        return aesKey.clone();
    }

    /** The name in lower-case hex, for logs: it identifies the key without revealing it. */
    public String nameHex() {
        return HexFormat.of().formatHex(name);
    }

    /** Whether this key may decrypt a ticket at {@code now}. */
    public boolean decryptsAt(Instant now) {
        return now.isBefore(notAfter);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TicketKey other && Arrays.equals(name, other.name) && Arrays.equals(hmacKey, other.hmacKey)
               && Arrays.equals(aesKey, other.aesKey) && notBefore.equals(other.notBefore)
               && notAfter.equals(other.notAfter);
    }

    @Override
    public int hashCode() {
        // The name alone is unique enough, and hashing key bytes would only add ways to leak them.
        return Arrays.hashCode(name);
    }

    @Override
    public String toString() {
        return "TicketKey[name=" + nameHex() + ", notBefore=" + notBefore + ", notAfter=" + notAfter + "]";
    }

    private static byte[] copyOf(String part, byte[] bytes) {
        Objects.requireNonNull(bytes, part);
        if (bytes.length != PART_LENGTH) {
            throw new IllegalArgumentException(part + ": " + bytes.length + " bytes (expected: " + PART_LENGTH + ")");
        }
        return bytes.clone();
    }
}
