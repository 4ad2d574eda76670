package dev.quicfleet.transport;

import io.netty.handler.codec.quic.QuicConnectionIdGenerator;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Locale;
import java.util.function.IntSupplier;

/**
 * The layout of the connection IDs quicfleet issues: QUIC-LB shaped (draft-ietf-quic-load-balancers, unencrypted
 * "plaintext" form), fixed length, with the worker slot at a fixed offset so the kernel can steer packets by it.
 *
 * <pre>
 *  byte 0            1 .. s          1+s        2+s .. length-1
 * +-----+-----------+----------------+----------+------------------+
 * | rot | len - 1   | server id      |   slot   | random nonce     |
 * | 3 b |   5 b     | s bytes (0..4) |  1 byte  | length-2-s bytes |
 * +-----+-----------+----------------+----------+------------------+
 *   first octet      \______ QUIC-LB server ID (1+s bytes) ______/
 * </pre>
 *
 * <ul>
 *   <li><b>First octet</b>: the three high bits are the QUIC-LB <i>config rotation</i> codepoint; quicfleet sets
 *   them to the key epoch mod 7 ({@link #rotationOf(long)}), so whoever sees a connection ID later (this worker,
 *   another worker, another host) knows which epoch's reset key its stateless reset token was derived from. 0b111 is
 *   reserved by the draft for "unroutable" and never issued. The five low bits self-describe the length
 *   ({@code length - 1}), as the draft requires of unroutable IDs and allows for all; with a fixed length they
 *   reveal nothing an observer does not already know.</li>
 *   <li><b>Server id</b> ({@code --server-id}, 0..4 bytes): identifies the host to a CID-aware L4 balancer.</li>
 *   <li><b>Slot</b> (1 byte): the worker slot, i.e. the index of the worker's socket in the host's
 *   {@code SO_REUSEPORT} group. It sits at {@link #slotOffset()} = {@code 1 + serverIdLength}; the steering program
 *   reads it at UDP payload offset {@code 1 + slotOffset()} (one byte of short-header flags, then the DCID).
 *   Towards a QUIC-LB balancer, server id + slot together form the QUIC-LB server ID (at least one byte, as the
 *   draft requires): a host owns one server ID per worker, the draft's "one routing address, many server
 *   entities".</li>
 *   <li><b>Nonce</b>: random bytes from {@link SecureRandom}, at least {@value #MIN_NONCE_LENGTH}, so IDs are unique
 *   within a worker and issued IDs cannot be linked to each other (RFC 9000 §5.1; the draft asks for at least four
 *   nonce bytes).</li>
 * </ul>
 *
 * <p>The total length is fixed per cluster ({@value #DEFAULT_LENGTH} by default, the QUIC v1 maximum and Netty's
 * default, so adopting this layout changes no packet size): Netty parses short headers with one fixed
 * {@code localConnectionIdLength}, and a host that answers a packet for another host's connection with a stateless
 * reset must slice the same DCID bytes the issuer hashed. Twenty bytes leave 14..18 random nonce bytes.
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class ConnectionIds {

    /** QUIC v1 limit on connection ID length (RFC 9000 §17.2). */
    public static final int MAX_LENGTH = 20;
    /** The length quicfleet uses unless configured otherwise: the QUIC v1 maximum, which is also Netty's default. */
    public static final int DEFAULT_LENGTH = 20;
    /** Fewest random bytes per ID: 64 bits keep IDs unique within a worker and unlinkable. */
    public static final int MIN_NONCE_LENGTH = 8;
    /** Longest {@code --server-id}. */
    public static final int MAX_SERVER_ID_LENGTH = 4;
    /** Config rotation codepoint reserved by QUIC-LB for unroutable IDs; quicfleet never issues it. */
    public static final int UNROUTABLE_ROTATION = 0b111;
    /** Number of usable config rotation codepoints (0..6). */
    public static final int ROTATION_CODEPOINTS = 7;
    /** Number of worker slots one byte can name. */
    public static final int MAX_SLOTS = 256;

    private static final HexFormat HEX = HexFormat.of();

    private final int length;
    private final byte[] serverId;
    private final SecureRandom random = new SecureRandom();

    private ConnectionIds(int length, byte[] serverId) {
        this.length = length;
        this.serverId = serverId;
    }

    /**
     * The layout of {@value #DEFAULT_LENGTH}-byte IDs carrying {@code serverId}.
     *
     * @throws IllegalArgumentException when the server id is longer than {@value #MAX_SERVER_ID_LENGTH} bytes
     */
    public static ConnectionIds of(byte[] serverId) {
        return of(serverId, DEFAULT_LENGTH);
    }

    /**
     * The layout of {@code length}-byte IDs carrying {@code serverId}. Every host and worker of one cluster must use
     * the same length, and hosts behind one CID-aware balancer server ids of the same length.
     *
     * @throws IllegalArgumentException when the server id is longer than {@value #MAX_SERVER_ID_LENGTH} bytes, or
     *                                  {@code length} leaves fewer than {@value #MIN_NONCE_LENGTH} nonce bytes or
     *                                  exceeds {@value #MAX_LENGTH}
     */
    public static ConnectionIds of(byte[] serverId, int length) {
        if (serverId.length > MAX_SERVER_ID_LENGTH) {
            throw new IllegalArgumentException("server-id: " + HEX.formatHex(serverId) + " is " + serverId.length
                    + " bytes (expected: 0.." + MAX_SERVER_ID_LENGTH + " bytes)");
        }
        int min = 2 + serverId.length + MIN_NONCE_LENGTH;
        if (length < min || length > MAX_LENGTH) {
            throw new IllegalArgumentException("connection-id-length: " + length + " (expected: " + min + ".."
                    + MAX_LENGTH + " with a " + serverId.length + "-byte server id, leaving at least "
                    + MIN_NONCE_LENGTH + " random bytes)");
        }
        return new ConnectionIds(length, serverId.clone());
    }

    /**
     * Parses a {@code --server-id} value: hexadecimal with a {@code 0x} prefix and an even number of digits
     * ({@code 0x00a1} is two bytes: leading zeros fix the length, which hosts behind one balancer must share), or a
     * decimal number, which takes the fewest bytes that hold it (0..255 one byte, up to 65535 two, ...). An empty
     * value means no server id.
     *
     * @throws IllegalArgumentException naming the value and the accepted forms
     */
    public static byte[] parseServerId(String value) {
        String text = value.trim();
        if (text.isEmpty()) {
            return new byte[0];
        }
        try {
            if (text.toLowerCase(Locale.ROOT).startsWith("0x")) {
                String digits = text.substring(2);
                if (digits.isEmpty() || digits.length() % 2 != 0 || digits.length() > 2 * MAX_SERVER_ID_LENGTH) {
                    throw new IllegalArgumentException("odd or wrong number of hex digits");
                }
                return HEX.parseHex(digits);
            }
            long number = Long.parseLong(text);
            if (number < 0 || number > 0xFFFF_FFFFL) {
                throw new IllegalArgumentException("out of range");
            }
            int bytes = number <= 0xFF ? 1 : number <= 0xFFFF ? 2 : number <= 0xFF_FFFF ? 3 : 4;
            byte[] id = new byte[bytes];
            for (int i = bytes - 1; i >= 0; i--) {
                id[i] = (byte) number;
                number >>>= 8;
            }
            return id;
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("server-id: " + value + " (expected: 0x followed by 2, 4, 6 or 8 hex "
                    + "digits, or a decimal number 0..4294967295)", e);
        }
    }

    /** The config rotation codepoint (0..6) for key epoch {@code epoch}: {@code epoch mod 7}. */
    public static int rotationOf(long epoch) {
        return (int) Math.floorMod(epoch, (long) ROTATION_CODEPOINTS);
    }

    /** Total length of every ID of this layout. */
    public int length() {
        return length;
    }

    /** This host's server id (a copy; possibly empty). */
    public byte[] serverId() {
        return serverId.clone();
    }

    /** Length of the server id in bytes (0..4). */
    public int serverIdLength() {
        return serverId.length;
    }

    /** Offset of the slot byte within the connection ID ({@code 1 + serverIdLength()}). */
    public int slotOffset() {
        return 1 + serverId.length;
    }

    /** Number of random bytes at the end of each ID. */
    public int nonceLength() {
        return length - 2 - serverId.length;
    }

    /**
     * A new random connection ID for {@code slot} under config rotation codepoint {@code rotation}.
     *
     * @throws IllegalArgumentException when {@code rotation} is not 0..6 or {@code slot} not 0..255
     */
    public byte[] newId(int rotation, int slot) {
        byte[] nonce = new byte[nonceLength()];
        random.nextBytes(nonce);
        return encode(rotation, slot, nonce);
    }

    /**
     * The connection ID for {@code slot} under codepoint {@code rotation} with the given nonce (exactly
     * {@link #nonceLength()} bytes). {@link #newId} is this with a random nonce; tests use this directly.
     */
    public byte[] encode(int rotation, int slot, byte[] nonce) {
        if (rotation < 0 || rotation >= ROTATION_CODEPOINTS) {
            throw new IllegalArgumentException("config rotation: " + rotation + " (expected: 0.."
                    + (ROTATION_CODEPOINTS - 1) + "; 7 is reserved by QUIC-LB for unroutable IDs)");
        }
        if (slot < 0 || slot >= MAX_SLOTS) {
            throw new IllegalArgumentException("slot: " + slot + " (expected: 0.." + (MAX_SLOTS - 1) + ")");
        }
        if (nonce.length != nonceLength()) {
            throw new IllegalArgumentException("nonce: " + nonce.length + " bytes (expected: " + nonceLength() + ")");
        }
        byte[] id = new byte[length];
        id[0] = (byte) (rotation << 5 | (length - 1));
        System.arraycopy(serverId, 0, id, 1, serverId.length);
        id[slotOffset()] = (byte) slot;
        System.arraycopy(nonce, 0, id, slotOffset() + 1, nonce.length);
        return id;
    }

    /**
     * Whether {@code cid} (its remaining bytes; position and limit are left alone) has this layout: the configured
     * length, a self-described length that matches, and a rotation codepoint other than 0b111. It does not require
     * this host's server id: a packet for another host's connection is still one of the cluster's IDs.
     */
    public boolean isValid(ByteBuffer cid) {
        if (cid.remaining() != length) {
            return false;
        }
        int first = cid.get(cid.position()) & 0xFF;
        return (first & 0x1F) == length - 1 && first >>> 5 != UNROUTABLE_ROTATION;
    }

    /** {@link #isValid(ByteBuffer)} for a byte array. */
    public boolean isValid(byte[] cid) {
        return isValid(ByteBuffer.wrap(cid));
    }

    /** Whether {@code cid} is {@linkplain #isValid valid} and carries this host's server id. */
    public boolean isIssuedByThisHost(ByteBuffer cid) {
        if (!isValid(cid)) {
            return false;
        }
        for (int i = 0; i < serverId.length; i++) {
            if (cid.get(cid.position() + 1 + i) != serverId[i]) {
                return false;
            }
        }
        return true;
    }

    /** The config rotation codepoint (three high bits of the first octet) of any connection ID. */
    public static int rotation(ByteBuffer cid) {
        requireNonEmpty(cid);
        return (cid.get(cid.position()) & 0xFF) >>> 5;
    }

    /** {@link #rotation(ByteBuffer)} for a byte array. */
    public static int rotation(byte[] cid) {
        return rotation(ByteBuffer.wrap(cid));
    }

    /**
     * The worker slot of {@code cid}.
     *
     * @throws IllegalArgumentException when {@code cid} is not {@linkplain #isValid valid}
     */
    public int slot(ByteBuffer cid) {
        requireValid(cid);
        return cid.get(cid.position() + slotOffset()) & 0xFF;
    }

    /** {@link #slot(ByteBuffer)} for a byte array. */
    public int slot(byte[] cid) {
        return slot(ByteBuffer.wrap(cid));
    }

    /**
     * The server id bytes of {@code cid}.
     *
     * @throws IllegalArgumentException when {@code cid} is not {@linkplain #isValid valid}
     */
    public byte[] serverId(ByteBuffer cid) {
        requireValid(cid);
        byte[] id = new byte[serverId.length];
        cid.get(cid.position() + 1, id);
        return id;
    }

    /** {@link #serverId(ByteBuffer)} for a byte array. */
    public byte[] serverId(byte[] cid) {
        return serverId(ByteBuffer.wrap(cid));
    }

    /**
     * A Netty connection ID generator issuing IDs of this layout for worker {@code slot}, under the rotation
     * codepoint {@code rotation} supplies at each call (the current key epoch mod 7, see {@link #rotationOf}).
     * Configure the codec with {@code localConnectionIdLength(length())}; the generator refuses any other length
     * rather than issue IDs the kernel would steer wrongly.
     */
    public QuicConnectionIdGenerator generator(int slot, IntSupplier rotation) {
        if (slot < 0 || slot >= MAX_SLOTS) {
            throw new IllegalArgumentException("slot: " + slot + " (expected: 0.." + (MAX_SLOTS - 1) + ")");
        }
        return new SlotGenerator(this, slot, rotation);
    }

    private void requireValid(ByteBuffer cid) {
        if (!isValid(cid)) {
            throw new IllegalArgumentException("connection id " + hex(cid) + " does not have this layout (expected: "
                    + length + " bytes, first octet with length bits " + (length - 1) + " and rotation 0..6)");
        }
    }

    private static void requireNonEmpty(ByteBuffer cid) {
        if (!cid.hasRemaining()) {
            throw new IllegalArgumentException("connection id is empty");
        }
    }

    private static String hex(ByteBuffer cid) {
        byte[] bytes = new byte[cid.remaining()];
        cid.get(cid.position(), bytes);
        return HEX.formatHex(bytes);
    }

    @Override
    public String toString() {
        return "ConnectionIds[length=" + length + ", serverId=" + HEX.formatHex(serverId) + ", slotOffset="
                + slotOffset() + ", nonceLength=" + nonceLength() + "]";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ConnectionIds other && length == other.length && Arrays.equals(serverId, other.serverId);
    }

    @Override
    public int hashCode() {
        return 31 * length + Arrays.hashCode(serverId);
    }

    /**
     * Issues random IDs for one slot. Netty calls {@code newId(scid, dcid, length)} for a new connection (and for
     * Retry) and {@code newId(key, length)} for the spare IDs it hands out in NEW_CONNECTION_ID frames; the inputs
     * are ignored. Not idempotent: Netty finds a repeated Initial through the client's original DCID, which it
     * maps to the connection as well.
     */
    private static final class SlotGenerator implements QuicConnectionIdGenerator {

        private final ConnectionIds layout;
        private final int slot;
        private final IntSupplier rotation;

        SlotGenerator(ConnectionIds layout, int slot, IntSupplier rotation) {
            this.layout = layout;
            this.slot = slot;
            this.rotation = rotation;
        }

        @Override
        public ByteBuffer newId(int length) {
            if (length != layout.length) {
                throw new IllegalArgumentException("connection id length: " + length + " (expected: "
                        + layout.length + "; configure the QUIC codec with localConnectionIdLength("
                        + layout.length + "))");
            }
            return ByteBuffer.wrap(layout.newId(rotation.getAsInt(), slot));
        }

        @Override
        public ByteBuffer newId(ByteBuffer input, int length) {
            return newId(length);
        }

        @Override
        public ByteBuffer newId(ByteBuffer scid, ByteBuffer dcid, int length) {
            return newId(length);
        }

        @Override
        public int maxConnectionIdLength() {
            return layout.length;
        }

        @Override
        public boolean isIdempotent() {
            return false;
        }

        @Override
        public String toString() {
            return "SlotGenerator[slot=" + slot + ", " + layout + "]";
        }
    }
}
