package dev.quicfleet.ticketcache;

import org.bouncycastle.crypto.digests.SHA256Digest;
import org.bouncycastle.crypto.generators.HKDFBytesGenerator;
import org.bouncycastle.crypto.params.HKDFParameters;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.Set;

/**
 * A secret shared by every host of a cluster ({@code --cluster-secret FILE}), from which each host derives the same
 * ticket, token and reset keys for every epoch, so a ticket issued by one host resumes on any other without the hosts
 * ever talking to each other.
 *
 * <p>Derivation is HKDF-SHA256 (RFC 5869): one extract step with the fixed salt {@value #SALT_TEXT} over the file's
 * bytes, then one expand step per key with the info {@code "<label>" || epoch} (the epoch as 8 bytes, big-endian) and
 * the labels {@value #TICKET_LABEL} (48 bytes: name, HMAC key, AES key), {@value #TOKEN_LABEL} (32 bytes) and
 * {@value #RESET_LABEL} (32 bytes). Distinct labels keep the keys independent: knowing a reset key tells nothing
 * about a ticket key. Only the extracted pseudo-random key is kept in memory, never the file's bytes.
 */
public final class ClusterSecret implements KeySource {

    /** The fewest bytes a cluster secret file may hold. */
    public static final int MIN_LENGTH = 32;

    static final String SALT_TEXT = "quicfleet cluster secret v1";
    static final String TICKET_LABEL = "quicfleet ticket v1";
    static final String TOKEN_LABEL = "quicfleet token v1";
    static final String RESET_LABEL = "quicfleet reset v1";
    static final String FINGERPRINT_LABEL = "quicfleet fingerprint v1";

    private static final Set<PosixFilePermission> GROUP_OR_OTHERS = EnumSet.of(
            PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE,
            PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE);

    private final byte[] pseudoRandomKey;
    private final String fingerprint;

    private ClusterSecret(byte[] secret) {
        HKDFBytesGenerator extractor = new HKDFBytesGenerator(new SHA256Digest());
        this.pseudoRandomKey = extractor.extractPRK(salt(), secret);
        this.fingerprint = HexFormat.of().formatHex(expand(FINGERPRINT_LABEL, 0, 4));
    }

    /**
     * Reads and checks the secret file: it must be a regular file of at least {@value #MIN_LENGTH} bytes that neither
     * group nor others may read or write. Its bytes are used as they are (a file of random bytes, or their hex or
     * base64 text: hosts with the same file agree either way).
     *
     * @throws ClusterSecretException if the file is missing, unreadable, too short or too open
     */
    public static ClusterSecret read(Path file) throws ClusterSecretException {
        PosixFileAttributes attributes;
        try {
            attributes = Files.readAttributes(file, PosixFileAttributes.class);
        } catch (IOException | UnsupportedOperationException e) {
            throw new ClusterSecretException("cluster secret " + file + " cannot be read: " + e, e);
        }
        if (!attributes.isRegularFile()) {
            throw new ClusterSecretException("cluster secret " + file + " is not a regular file");
        }
        Set<PosixFilePermission> open = EnumSet.copyOf(attributes.permissions());
        open.retainAll(GROUP_OR_OTHERS);
        if (!open.isEmpty()) {
            throw new ClusterSecretException("cluster secret " + file + " is readable or writable by group or others ("
                    + PosixFilePermissions.toString(attributes.permissions()) + ") (expected: only its owner may "
                    + "read it: chmod 600 " + file + ")");
        }
        byte[] secret;
        try {
            secret = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new ClusterSecretException("cluster secret " + file + " cannot be read: " + e, e);
        }
        try {
            if (secret.length < MIN_LENGTH) {
                throw new ClusterSecretException("cluster secret " + file + " has " + secret.length
                        + " bytes (expected: at least " + MIN_LENGTH + " random bytes, e.g. head -c 32 /dev/urandom > "
                        + file + ")");
            }
            return new ClusterSecret(secret);
        } finally {
            Arrays.fill(secret, (byte) 0);
        }
    }

    /** A secret from bytes in memory, so tests need no file. */
    static ClusterSecret of(byte[] secret) {
        if (secret.length < MIN_LENGTH) {
            throw new IllegalArgumentException("cluster secret: " + secret.length + " bytes (expected: at least "
                    + MIN_LENGTH + ")");
        }
        return new ClusterSecret(secret);
    }

    @Override
    public EpochKeys keys(long epoch) {
        return new EpochKeys(epoch, expand(TICKET_LABEL, epoch, TicketKey.LENGTH),
                expand(TOKEN_LABEL, epoch, EpochKeys.MAC_KEY_LENGTH), expand(RESET_LABEL, epoch, EpochKeys.MAC_KEY_LENGTH));
    }

    /**
     * Eight hex digits that identify the secret without revealing it (derived with its own HKDF label), so operators
     * can compare hosts' logs: equal fingerprints mean the hosts will accept each other's tickets.
     */
    public String fingerprint() {
        return fingerprint;
    }

    @Override
    public String toString() {
        return "ClusterSecret[fingerprint=" + fingerprint + "]";
    }

    private byte[] expand(String label, long epoch, int length) {
        byte[] labelBytes = label.getBytes(StandardCharsets.US_ASCII);
        byte[] info = ByteBuffer.allocate(labelBytes.length + Long.BYTES).put(labelBytes).putLong(epoch).array();
        HKDFBytesGenerator expander = new HKDFBytesGenerator(new SHA256Digest());
        expander.init(HKDFParameters.skipExtractParameters(pseudoRandomKey, info));
        byte[] out = new byte[length];
        expander.generateBytes(out, 0, length);
        return out;
    }

    private static byte[] salt() {
        return SALT_TEXT.getBytes(StandardCharsets.US_ASCII);
    }
}
