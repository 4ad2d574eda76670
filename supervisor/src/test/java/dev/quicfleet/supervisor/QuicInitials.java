package dev.quicfleet.supervisor;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Arrays;
import java.util.HexFormat;
import javax.crypto.Cipher;
import javax.crypto.Mac;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * QUIC v1 Initial packet protection (RFC 9001 §5), for tests that need many distinct, valid client Initials: a real
 * client's first datagram (recorded through a relay) is decrypted with the keys its destination connection ID
 * derives, and its frames (the ClientHello) are protected again under a new destination connection ID. Each copy is a
 * new connection to the server, as valid as the client's own first flight.
 */
final class QuicInitials {

    private static final byte[] INITIAL_SALT = HexFormat.of().parseHex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a");

    private final byte[] firstByte;
    private final byte[] scid;
    private final byte[] plaintext;
    private final long packetNumber;
    private final int packetNumberLength;
    private final int datagramLength;

    private QuicInitials(byte firstByte, byte[] scid, byte[] plaintext, long packetNumber, int packetNumberLength,
                         int datagramLength) {
        this.firstByte = new byte[] {firstByte};
        this.scid = scid;
        this.plaintext = plaintext;
        this.packetNumber = packetNumber;
        this.packetNumberLength = packetNumberLength;
        this.datagramLength = datagramLength;
    }

    /** Reads the first (Initial) packet of {@code datagram}, a client's first datagram. */
    static QuicInitials of(byte[] datagram) throws GeneralSecurityException {
        ByteBuffer in = ByteBuffer.wrap(datagram);
        byte first = in.get();
        if ((first & 0xf0) != 0xc0 || in.getInt() != 1) {
            throw new IllegalArgumentException("not a QUIC v1 Initial: first byte " + (first & 0xff));
        }
        byte[] dcid = new byte[in.get() & 0xff];
        in.get(dcid);
        byte[] scid = new byte[in.get() & 0xff];
        in.get(scid);
        long tokenLength = varint(in);
        in.position(in.position() + (int) tokenLength);
        int length = (int) varint(in);
        int pnOffset = in.position();
        Keys keys = Keys.client(dcid);
        byte[] packet = Arrays.copyOf(datagram, pnOffset + length);
        byte[] mask = keys.mask(packet, pnOffset);
        packet[0] ^= (byte) (mask[0] & 0x0f);
        int pnLength = (packet[0] & 0x03) + 1;
        long pn = 0;
        for (int i = 0; i < pnLength; i++) {
            packet[pnOffset + i] ^= mask[1 + i];
            pn = (pn << 8) | (packet[pnOffset + i] & 0xff);
        }
        int headerLength = pnOffset + pnLength;
        Cipher aead = keys.aead(Cipher.DECRYPT_MODE, pn);
        aead.updateAAD(packet, 0, headerLength);
        byte[] plaintext = aead.doFinal(packet, headerLength, packet.length - headerLength);
        return new QuicInitials(packet[0], scid, plaintext, pn, pnLength, datagram.length);
    }

    /** The same Initial protected for destination connection ID {@code dcid} (a new connection for the server). */
    byte[] withDestination(byte[] dcid) throws GeneralSecurityException {
        ByteArrayOutputStream header = new ByteArrayOutputStream();
        header.write(firstByte[0]);
        header.writeBytes(new byte[] {0, 0, 0, 1});
        header.write(dcid.length);
        header.writeBytes(dcid);
        header.write(scid.length);
        header.writeBytes(scid);
        header.write(0); // no token
        int length = packetNumberLength + plaintext.length + 16;
        header.write(0x40 | (length >> 8)); // two-byte varint
        header.write(length & 0xff);
        int pnOffset = header.size();
        for (int i = packetNumberLength - 1; i >= 0; i--) {
            header.write((int) (packetNumber >>> (8 * i)) & 0xff);
        }
        byte[] head = header.toByteArray();
        Keys keys = Keys.client(dcid);
        Cipher aead = keys.aead(Cipher.ENCRYPT_MODE, packetNumber);
        aead.updateAAD(head);
        byte[] sealed = aead.doFinal(plaintext);
        byte[] packet = new byte[Math.max(datagramLength, head.length + sealed.length)];
        System.arraycopy(head, 0, packet, 0, head.length);
        System.arraycopy(sealed, 0, packet, head.length, sealed.length);
        byte[] mask = keys.mask(packet, pnOffset);
        packet[0] ^= (byte) (mask[0] & 0x0f);
        for (int i = 0; i < packetNumberLength; i++) {
            packet[pnOffset + i] ^= mask[1 + i];
        }
        // Bytes after the packet (if the new header is shorter) stay zero: PADDING after the packet is allowed
        // (RFC 9000 §12.2 - the receiver discards what does not parse as a further packet).
        return Arrays.copyOf(packet, head.length + sealed.length);
    }

    private static long varint(ByteBuffer in) {
        int first = in.get() & 0xff;
        int extra = (1 << (first >> 6)) - 1;
        long value = first & 0x3f;
        for (int i = 0; i < extra; i++) {
            value = (value << 8) | (in.get() & 0xff);
        }
        return value;
    }

    /** The client's Initial keys for one destination connection ID. */
    private record Keys(byte[] key, byte[] iv, byte[] hp) {

        static Keys client(byte[] dcid) throws GeneralSecurityException {
            byte[] initial = hmac(INITIAL_SALT, dcid);
            byte[] secret = expandLabel(initial, "client in", 32);
            return new Keys(expandLabel(secret, "quic key", 16), expandLabel(secret, "quic iv", 12),
                    expandLabel(secret, "quic hp", 16));
        }

        Cipher aead(int mode, long packetNumber) throws GeneralSecurityException {
            byte[] nonce = iv.clone();
            for (int i = 0; i < 8; i++) {
                nonce[nonce.length - 1 - i] ^= (byte) (packetNumber >>> (8 * i));
            }
            Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
            cipher.init(mode, new SecretKeySpec(key, "AES"), new GCMParameterSpec(128, nonce));
            return cipher;
        }

        byte[] mask(byte[] packet, int pnOffset) throws GeneralSecurityException {
            Cipher ecb = Cipher.getInstance("AES/ECB/NoPadding");
            ecb.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(hp, "AES"));
            return ecb.doFinal(packet, pnOffset + 4, 16);
        }

        private static byte[] hmac(byte[] key, byte[] data) throws GeneralSecurityException {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(data);
        }

        /** TLS 1.3 HKDF-Expand-Label with an empty context, for outputs of at most 32 bytes (one block). */
        private static byte[] expandLabel(byte[] secret, String label, int length) throws GeneralSecurityException {
            byte[] fullLabel = ("tls13 " + label).getBytes(StandardCharsets.US_ASCII);
            ByteBuffer info = ByteBuffer.allocate(2 + 1 + fullLabel.length + 1 + 1);
            info.putShort((short) length).put((byte) fullLabel.length).put(fullLabel).put((byte) 0).put((byte) 1);
            return Arrays.copyOf(hmac(secret, info.array()), length);
        }
    }
}
