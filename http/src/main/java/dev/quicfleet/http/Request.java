package dev.quicfleet.http;

import java.io.InputStream;

/**
 * An HTTP request as a handler sees it, the same for HTTP/3, HTTP/2 and HTTP/1.1.
 *
 * <p>The body is streamed: {@link #body()} returns an {@link InputStream} that yields bytes as they arrive from the
 * network and blocks (the handler's virtual thread, never an event loop) until more arrive. The worker reads from the
 * network only as fast as the handler consumes, so a slow handler slows the client down through flow control instead
 * of filling memory.
 */
public interface Request extends RequestHead {

    /**
     * The request body as a stream. Reading blocks until data arrives; it returns {@code -1} at the end of the body
     * and throws an {@link java.io.IOException} when the client resets the stream or the connection fails.
     * Bytes the handler does not read are discarded when it returns.
     */
    InputStream body();

    /** Trailers sent after the body; empty until {@link #body()} has been read to the end, and when none were sent. */
    Headers trailers();
}
