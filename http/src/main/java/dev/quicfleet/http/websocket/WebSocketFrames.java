package dev.quicfleet.http.websocket;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;

/**
 * RFC 6455 §5 framing over byte buffers, for both ends: the same frames travel in an HTTP/1.1 upgraded connection,
 * an HTTP/2 stream (RFC 8441) and an HTTP/3 stream (RFC 9220). Netty's {@code WebSocket13FrameDecoder} is a channel
 * handler; on HTTP/2 and HTTP/3 the frames arrive as the body of an exchange, not in a pipeline of their own, so this
 * small codec works on the buffers directly. No extensions (RSV bits must be 0).
 */
public final class WebSocketFrames {

    public static final int CONTINUATION = 0x0;
    public static final int TEXT = 0x1;
    public static final int BINARY = 0x2;
    public static final int CLOSE = 0x8;
    public static final int PING = 0x9;
    public static final int PONG = 0xA;

    private static final SecureRandom MASKS = new SecureRandom();

    private WebSocketFrames() {
    }

    /** One decoded frame; {@code payload} is unmasked. */
    public record Frame(boolean fin, int opcode, byte[] payload) {

        /** Whether this is a control frame (close, ping, pong). */
        public boolean control() {
            return (opcode & 0x8) != 0;
        }
    }

    /** A frame that breaks the protocol or a limit; {@link #closeCode()} is what the connection closes with. */
    public static final class FrameException extends Exception {
        private final int closeCode;

        public FrameException(int closeCode, String message) {
            super(message);
            this.closeCode = closeCode;
        }

        public int closeCode() {
            return closeCode;
        }
    }

    /**
     * Decodes the next complete frame from {@code in} (consuming it), or returns {@code null} and consumes nothing
     * when the frame is not complete yet. A frame longer than {@code maxFrameSize} is refused as soon as its header
     * is in, before its payload is buffered.
     *
     * @param masked whether frames must be masked (a server reads masked client frames, a client unmasked ones)
     */
    public static Frame decode(ByteBuf in, boolean masked, long maxFrameSize) throws FrameException {
        int start = in.readerIndex();
        if (in.readableBytes() < 2) {
            return null;
        }
        int b0 = in.getUnsignedByte(start);
        int b1 = in.getUnsignedByte(start + 1);
        boolean fin = (b0 & 0x80) != 0;
        int opcode = b0 & 0x0F;
        if ((b0 & 0x70) != 0) {
            throw new FrameException(WebSocketSession.PROTOCOL_ERROR, "RSV bits set without an extension");
        }
        if (opcode != CONTINUATION && opcode != TEXT && opcode != BINARY && opcode != CLOSE && opcode != PING
                && opcode != PONG) {
            throw new FrameException(WebSocketSession.PROTOCOL_ERROR, "unknown opcode " + opcode);
        }
        boolean isMasked = (b1 & 0x80) != 0;
        if (isMasked != masked) {
            throw new FrameException(WebSocketSession.PROTOCOL_ERROR,
                    masked ? "unmasked client frame" : "masked server frame");
        }
        long length = b1 & 0x7F;
        int header = 2;
        if (length == 126) {
            if (in.readableBytes() < 4) {
                return null;
            }
            length = in.getUnsignedShort(start + 2);
            header = 4;
        } else if (length == 127) {
            if (in.readableBytes() < 10) {
                return null;
            }
            length = in.getLong(start + 2);
            header = 10;
            if (length < 0) {
                throw new FrameException(WebSocketSession.PROTOCOL_ERROR, "frame length over 2^63");
            }
        }
        if ((opcode & 0x8) != 0 && (length > 125 || !fin)) {
            throw new FrameException(WebSocketSession.PROTOCOL_ERROR, "control frame fragmented or over 125 bytes");
        }
        if (length > maxFrameSize) {
            throw new FrameException(WebSocketSession.MESSAGE_TOO_BIG,
                    "frame of " + length + " bytes (limit: " + maxFrameSize + ")");
        }
        int maskAt = start + header;
        if (masked) {
            header += 4;
        }
        if (in.readableBytes() < header + length) {
            return null;
        }
        byte[] payload = new byte[(int) length];
        in.getBytes(start + header, payload);
        if (masked) {
            byte[] mask = new byte[4];
            in.getBytes(maskAt, mask);
            for (int i = 0; i < payload.length; i++) {
                payload[i] ^= mask[i & 3];
            }
        }
        in.readerIndex(start + header + (int) length);
        return new Frame(fin, opcode, payload);
    }

    /** Encodes one frame; {@code mask} for frames a client sends (RFC 6455 §5.3), with a fresh random key. */
    public static ByteBuf encode(ByteBufAllocator alloc, boolean fin, int opcode, byte[] payload, int offset,
                                 int length, boolean mask) {
        int header = 2 + (length > 65_535 ? 8 : length > 125 ? 2 : 0) + (mask ? 4 : 0);
        ByteBuf out = alloc.buffer(header + length);
        out.writeByte((fin ? 0x80 : 0) | opcode);
        int maskBit = mask ? 0x80 : 0;
        if (length > 65_535) {
            out.writeByte(maskBit | 127);
            out.writeLong(length);
        } else if (length > 125) {
            out.writeByte(maskBit | 126);
            out.writeShort(length);
        } else {
            out.writeByte(maskBit | length);
        }
        if (!mask) {
            out.writeBytes(payload, offset, length);
            return out;
        }
        byte[] key = new byte[4];
        MASKS.nextBytes(key);
        out.writeBytes(key);
        // Copy, then mask in place eight bytes at a time: a writeByte per payload byte cost a sending client most of
        // its CPU while the JIT had not compiled it yet. Eight is a multiple of the key's four, so the key lines up.
        int at = out.writerIndex();
        out.writeBytes(payload, offset, length);
        int k = ((key[0] & 0xFF) << 24) | ((key[1] & 0xFF) << 16) | ((key[2] & 0xFF) << 8) | (key[3] & 0xFF);
        long key8 = ((long) k << 32) | (k & 0xFFFF_FFFFL);
        int i = 0;
        for (; i + 8 <= length; i += 8) {
            out.setLong(at + i, out.getLong(at + i) ^ key8);
        }
        for (; i < length; i++) {
            out.setByte(at + i, out.getByte(at + i) ^ key[i & 3]);
        }
        return out;
    }

    /** The payload of a close frame: the code (big-endian) and a UTF-8 reason cut to fit 125 bytes. */
    public static byte[] closePayload(int code, String reason) {
        byte[] text = reason == null ? new byte[0] : reason.getBytes(StandardCharsets.UTF_8);
        int n = Math.min(text.length, 123);
        byte[] payload = new byte[2 + n];
        payload[0] = (byte) (code >> 8);
        payload[1] = (byte) code;
        System.arraycopy(text, 0, payload, 2, n);
        return payload;
    }
}
