package dev.quicfleet.http;

/**
 * What a request says before its body: method, target, authority, headers and the connection it came on. The same
 * for HTTP/3, HTTP/2 and HTTP/1.1, and for both kinds of service: {@link Request} (blocking handlers) and
 * {@link HttpExchange} (event-loop services) extend it.
 */
public interface RequestHead {

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

    /** The connection this request arrived on (protocol, addresses, TLS resumption, early data). */
    ConnectionInfo connection();

    /** Shorthand for {@code connection().protocol()}. */
    default Protocol protocol() {
        return connection().protocol();
    }
}
