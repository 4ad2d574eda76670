package dev.quicfleet.http.websocket;

import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * One complete WebSocket message (its fragments joined): text (valid UTF-8) or binary.
 *
 * @param text whether it is a text message
 * @param data the payload; for text, UTF-8
 */
public record WebSocketMessage(boolean text, byte[] data) {

    public WebSocketMessage {
        Objects.requireNonNull(data, "data");
    }

    /** A text message. */
    public static WebSocketMessage text(String text) {
        return new WebSocketMessage(true, text.getBytes(StandardCharsets.UTF_8));
    }

    /** A binary message. */
    public static WebSocketMessage binary(byte[] data) {
        return new WebSocketMessage(false, data);
    }

    /** The payload as a string (UTF-8). */
    public String asText() {
        return new String(data, StandardCharsets.UTF_8);
    }
}
