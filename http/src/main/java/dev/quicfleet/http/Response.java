package dev.quicfleet.http;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * The response a handler writes, the same for HTTP/3, HTTP/2 and HTTP/1.1.
 *
 * <p>Set {@link #status(int)} and {@link #headers()} first, then write the body to {@link #body()}. The response is
 * <em>committed</em> (status and headers sent) at the first flush of the body or once it grows past the 16 KiB
 * buffer; after that status and headers can no longer change. If the handler returns without committing, the worker
 * sends the buffered body with an exact {@code content-length}.
 *
 * <p>Writes to {@link #body()} block while the peer's flow-control window is full (HTTP/3 and HTTP/2) or the socket
 * buffer is full (HTTP/1.1), and throw {@link java.io.IOException} once the client has gone away.
 * {@link OutputStream#flush()} pushes buffered bytes to the network at once (use it for streams such as
 * server-sent events).
 *
 * <p>For {@code HEAD} requests the worker sends the headers a {@code GET} would get and discards body bytes.
 */
public interface Response {

    /** Sets the status code (100..999; default 200). */
    Response status(int status);

    /** The status code set so far. */
    int status();

    /** The response headers; mutable until the response is committed. */
    Headers headers();

    /** Sets header {@code name} to {@code value}, replacing earlier values. */
    default Response header(String name, String value) {
        headers().set(name, value);
        return this;
    }

    /**
     * Trailers to send after the body; mutable until the body ends. HTTP/3 and HTTP/2 always carry them; HTTP/1.1
     * only when the body is sent chunked (no {@code content-length}), otherwise they are dropped.
     */
    Headers trailers();

    /** The body stream. Closing it ends the response (the handler returning does the same). */
    OutputStream body();

    /** Whether the status and headers have been sent. */
    boolean committed();

    /** Sends a complete response: status, {@code content-type}, exact {@code content-length}, body; then ends it. */
    void send(int status, String contentType, byte[] body) throws java.io.IOException;

    /** {@link #send(int, String, byte[])} with {@code body} encoded as UTF-8. */
    default void send(int status, String contentType, String body) throws java.io.IOException {
        send(status, contentType, body.getBytes(StandardCharsets.UTF_8));
    }
}
