package dev.quicfleet.http.websocket;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class WebSocketFramesTest {

    private static final ByteBufAllocator ALLOC = ByteBufAllocator.DEFAULT;

    @Test
    void maskedFramesOfEveryLengthFormRoundTrip() throws Exception {
        Random random = new Random(6455);
        for (int length : new int[] {0, 1, 3, 8, 9, 125, 126, 4097, 65_535, 65_536, 200_000}) {
            // from an odd offset into a larger array: the payload starts unaligned, the mask covers a slice
            byte[] source = new byte[length + 10];
            random.nextBytes(source);
            byte[] payload = Arrays.copyOfRange(source, 3, 3 + length);
            ByteBuf frame = WebSocketFrames.encode(ALLOC, true, WebSocketFrames.BINARY, source, 3, length, true);
            WebSocketFrames.Frame decoded = WebSocketFrames.decode(frame, true, 1 << 20);
            assertThat(decoded.fin()).isTrue();
            assertThat(decoded.opcode()).isEqualTo(WebSocketFrames.BINARY);
            assertThat(decoded.payload()).isEqualTo(payload);
            assertThat(frame.isReadable()).isFalse();
            frame.release();
        }
    }

    @Test
    void anIncompleteFrameIsLeftForMoreBytes() throws Exception {
        ByteBuf frame = WebSocketFrames.encode(ALLOC, false, WebSocketFrames.TEXT, new byte[300], 0, 300, false);
        ByteBuf part = Unpooled.buffer();
        part.writeBytes(frame, 0, 150);
        assertThat(WebSocketFrames.decode(part, false, 1000)).isNull();
        assertThat(part.readerIndex()).isZero();
        part.writeBytes(frame, 150, frame.readableBytes() - 150);
        WebSocketFrames.Frame decoded = WebSocketFrames.decode(part, false, 1000);
        assertThat(decoded.fin()).isFalse();
        assertThat(decoded.payload()).hasSize(300);
        frame.release();
    }

    @Test
    void aFrameOverTheLimitIsRefusedFromItsHeaderAlone() {
        ByteBuf header = Unpooled.buffer().writeByte(0x82).writeByte(0x80 | 127).writeLong(1L << 40);
        assertThatThrownBy(() -> WebSocketFrames.decode(header, true, 1 << 20))
                .isInstanceOf(WebSocketFrames.FrameException.class)
                .hasMessage("frame of 1099511627776 bytes (limit: 1048576)")
                .extracting(e -> ((WebSocketFrames.FrameException) e).closeCode()).isEqualTo(1009);
    }

    @Test
    void protocolErrorsClose1002() {
        ByteBuf unmasked = Unpooled.buffer().writeByte(0x81).writeByte(0);
        assertThatThrownBy(() -> WebSocketFrames.decode(unmasked, true, 100)).hasMessage("unmasked client frame");
        ByteBuf rsv = Unpooled.buffer().writeByte(0xC1).writeByte(0x80);
        assertThatThrownBy(() -> WebSocketFrames.decode(rsv, true, 100)).hasMessage("RSV bits set without an extension");
        ByteBuf fragmentedPing = Unpooled.buffer().writeByte(0x09).writeByte(0x80);
        assertThatThrownBy(() -> WebSocketFrames.decode(fragmentedPing, true, 100))
                .hasMessage("control frame fragmented or over 125 bytes");
    }

    @Test
    void closeCodesAnEndpointMaySend() {
        assertThat(WebSocketConnection.validCloseCode(1000)).isTrue();
        assertThat(WebSocketConnection.validCloseCode(4999)).isTrue();
        assertThat(WebSocketConnection.validCloseCode(1005)).isFalse();
        assertThat(WebSocketConnection.validCloseCode(1006)).isFalse();
        assertThat(WebSocketConnection.validCloseCode(2999)).isFalse();
    }
}
