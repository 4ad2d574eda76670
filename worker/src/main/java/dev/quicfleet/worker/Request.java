package dev.quicfleet.worker;

import java.io.InputStream;

/**
 * An HTTP request as a handler sees it, the same for HTTP/3, HTTP/2 and HTTP/1.1.
 *
 * <p>The body is streamed: {@link #body()} returns an {@link InputStream} that yields bytes as they arrive from the
 * network and blocks (the handler's virtual thread, never an event loop) until more arrive. The worker reads from the
 * network only as fast as the handler consumes, so a slow handler slows the client down through flow control instead
 * of filling memory.
 */
public interface Request {

    /** The method, upper case as sent: {@code GET}, {@code POST}, … */
    String method();

    /** The request target as sent: path and query, still percent-encoded (e.g. {@code /a%20b?x=1}). */
    String target();

    /** The path part of {@link #target()}, still percent-encoded; always starts with {@code /}. */
    String path();

    /** The query part of {@link #target()} without the {@code ?}; empty when there is none. */
    String query();

    /**
     * The first value of query parameter {@code name}, percent-decoded ({@code +} as space), or {@code null}.
     */
    String queryParam(String name);

    /**
     * The path below the prefix of the route that matched, still percent-encoded and starting with {@code /}
     * (for a route on {@code /static} and a request for {@code /static/css/a.css}: {@code /css/a.css}).
     * Equal to {@link #path()} when no router is involved.
     */
    String routePath();

    /** The authority the client addressed ({@code :authority} or {@code Host}), e.g. {@code localhost:4433}. */
    String authority();

    /** {@link #authority()} without the port, lower case; {@code ""} when the client sent none. */
    String host();

    /** {@code https} (the worker serves TLS only). */
    String scheme();

    /** The request headers (read-only), without pseudo-headers. */
    Headers headers();

    /** The declared body length from {@code content-length}, or {@code -1} when unknown (streamed). */
    long contentLength();

    /**
     * The request body as a stream. Reading blocks until data arrives; it returns {@code -1} at the end of the body
     * and throws an {@link java.io.IOException} when the client resets the stream or the connection fails.
     * Bytes the handler does not read are discarded when it returns.
     */
    InputStream body();

    /** Trailers sent after the body; empty until {@link #body()} has been read to the end, and when none were sent. */
    Headers trailers();

    /** The connection this request arrived on (protocol, addresses, TLS resumption, early data). */
    ConnectionInfo connection();

    /** Shorthand for {@code connection().protocol()}. */
    default Protocol protocol() {
        return connection().protocol();
    }
}
