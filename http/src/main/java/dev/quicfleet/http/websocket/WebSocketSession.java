package dev.quicfleet.http.websocket;

import dev.quicfleet.http.RequestHead;
import java.io.IOException;

/**
 * One WebSocket session as a {@link WebSocketHandler} sees it, on its virtual thread. Thread-safe: one thread may
 * receive while another sends.
 *
 * <p>Memory is bounded both ways: at most {@link #MAX_INBOX} bytes of received messages wait for {@link #receive()}
 * (beyond it the worker stops reading the connection or stream, and flow control stops the client), and at most
 * {@link #MAX_OUTBOX} bytes of sent ones wait for the transport ({@link #send} blocks beyond it, and while the
 * connection or stream cannot take more).
 */
public interface WebSocketSession {

    int NORMAL_CLOSURE = 1000;
    int GOING_AWAY = 1001;
    int PROTOCOL_ERROR = 1002;
    int UNSUPPORTED_DATA = 1003;
    int NO_STATUS = 1005;
    int ABNORMAL_CLOSURE = 1006;
    int INVALID_PAYLOAD = 1007;
    int POLICY_VIOLATION = 1008;
    int MESSAGE_TOO_BIG = 1009;
    int INTERNAL_ERROR = 1011;

    /** Received bytes waiting for {@link #receive()} above which the worker stops reading. */
    int MAX_INBOX = 1 << 20;
    /** Sent bytes waiting for the transport above which {@link #send} blocks. */
    int MAX_OUTBOX = 256 * 1024;

    /** The request that opened the session (path, headers, connection). */
    RequestHead request();

    /**
     * The next message, blocking until one arrives; {@code null} once the session is closed (then
     * {@link #closeCode()} says why).
     */
    WebSocketMessage receive() throws InterruptedException;

    /** Sends a text message; blocks while the client is not reading fast enough. */
    default void send(String text) throws IOException, InterruptedException {
        send(WebSocketMessage.text(text));
    }

    /** Sends a binary message; blocks while the client is not reading fast enough. */
    default void send(byte[] data) throws IOException, InterruptedException {
        send(WebSocketMessage.binary(data));
    }

    /**
     * Sends {@code message}; blocks while more than {@link #MAX_OUTBOX} bytes wait or the transport cannot take
     * more; a client that reads nothing for the worker's body timeout is dropped and the send fails.
     *
     * @throws IOException when the session is closed or the client was dropped
     */
    void send(WebSocketMessage message) throws IOException, InterruptedException;

    /**
     * Starts the closing handshake with {@code code} and {@code reason} (at most 123 bytes of UTF-8 are sent);
     * {@link #receive()} returns {@code null} once the client answers. Does nothing when already closing.
     */
    void close(int code, String reason);

    /** Whether messages may still be sent (no close sent or received). */
    boolean isOpen();

    /**
     * Why the session closed: the client's code when it closed first ({@code 1005} when it gave none), the
     * server's own otherwise ({@code 1009} for a message over the limit, {@code 1001} on idle timeout),
     * {@code 1006} when the transport went away without a close frame; {@code 0} while open.
     */
    int closeCode();

    /** The reason that came with {@link #closeCode()}; empty when none. */
    String closeReason();

    /** Bytes handed to {@link #send} that the worker has not passed to the transport yet. */
    long bufferedAmount();
}
