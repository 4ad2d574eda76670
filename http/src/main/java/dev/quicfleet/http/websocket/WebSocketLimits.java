package dev.quicfleet.http.websocket;

import java.time.Duration;
import java.util.Objects;

/**
 * Limits of a WebSocket service.
 *
 * @param maxFrameSize   the largest frame payload accepted, in bytes; a larger one closes the session with
 *                       {@code 1009} as soon as its header arrives
 * @param maxMessageSize the largest message (fragments joined) accepted; a larger one closes with {@code 1009}
 * @param idleTimeout    a session that receives no frame (pongs included) for this long is closed with
 *                       {@code 1001}; {@link Duration#ZERO}: never
 * @param pingInterval   a session that received nothing for this long gets a ping; {@link Duration#ZERO}: no
 *                       pings. Keep it below the idle timeout so that live clients answer in time
 *
 * <p>A client that stops reading blocks the handler's sends; after the worker's body timeout ({@code --body-timeout})
 * without progress it is dropped and the blocked send fails.
 */
public record WebSocketLimits(int maxFrameSize, int maxMessageSize, Duration idleTimeout, Duration pingInterval) {

    /** 1 MiB frames and messages, 60 s idle timeout, a ping after 30 s of silence. */
    public static final WebSocketLimits DEFAULT = new WebSocketLimits(1 << 20, 1 << 20, Duration.ofSeconds(60),
            Duration.ofSeconds(30));

    public WebSocketLimits {
        Objects.requireNonNull(idleTimeout, "idleTimeout");
        Objects.requireNonNull(pingInterval, "pingInterval");
        if (maxFrameSize < 125) {
            throw new IllegalArgumentException("maxFrameSize: " + maxFrameSize + " (expected: >= 125)");
        }
        if (maxMessageSize < maxFrameSize) {
            throw new IllegalArgumentException("maxMessageSize: " + maxMessageSize + " (expected: >= maxFrameSize "
                    + maxFrameSize + ")");
        }
        if (idleTimeout.isNegative() || pingInterval.isNegative()) {
            throw new IllegalArgumentException("idleTimeout " + idleTimeout + ", pingInterval " + pingInterval
                    + " (expected: >= 0)");
        }
    }

    /** These limits with {@code maxFrameSize} and {@code maxMessageSize}. */
    public WebSocketLimits withSizes(int maxFrameSize, int maxMessageSize) {
        return new WebSocketLimits(maxFrameSize, maxMessageSize, idleTimeout, pingInterval);
    }

    /** These limits with {@code idleTimeout} and {@code pingInterval}. */
    public WebSocketLimits withTimeouts(Duration idleTimeout, Duration pingInterval) {
        return new WebSocketLimits(maxFrameSize, maxMessageSize, idleTimeout, pingInterval);
    }
}
