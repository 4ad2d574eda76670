package dev.quicfleet.client;

import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * One HTTP/3 request: method, target, extra header fields, body and an optional timeout.
 *
 * @param method  the method ({@code GET}, {@code POST}, ...)
 * @param uri     an absolute {@code https} URI; its host and port pick the server, its path and query the target
 * @param headers extra fields in order, names lower-case ({@code :authority}, {@code :path} and the rest of the
 *                pseudo-header fields come from {@code uri})
 * @param body    the body
 * @param timeout the longest the whole exchange may take, response body included; null for no limit
 * @param trailers trailer fields sent after the body (a HEADERS frame before the stream's end, RFC 9114 §4.1), names
 *                 in lower case; empty for none
 */
public record H3Request(String method, URI uri, List<Map.Entry<String, String>> headers, RequestBody body,
                        Duration timeout, List<Map.Entry<String, String>> trailers) {

    /** A request without trailers. */
    public H3Request(String method, URI uri, List<Map.Entry<String, String>> headers, RequestBody body,
                     Duration timeout) {
        this(method, uri, headers, body, timeout, List.of());
    }

    /** Validates the fields. */
    public H3Request {
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(uri, "uri");
        Objects.requireNonNull(body, "body");
        if (!"https".equalsIgnoreCase(uri.getScheme()) || uri.getHost() == null) {
            throw new IllegalArgumentException("uri: " + uri + " (expected: https://HOST[:PORT]/PATH)");
        }
        headers = List.copyOf(headers);
        trailers = List.copyOf(trailers);
    }

    /** A GET of {@code uri}. */
    public static H3Request get(String uri) {
        return builder(URI.create(uri)).build();
    }

    /** A builder for a request to {@code uri}, GET by default. */
    public static Builder builder(URI uri) {
        return new Builder(uri);
    }

    /** The server's UDP port: the URI's, or 443. */
    public int port() {
        return uri.getPort() < 0 ? 443 : uri.getPort();
    }

    /** The request target: the URI's raw path (or {@code /}) and query. */
    public String path() {
        String path = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
        return uri.getRawQuery() == null ? path : path + "?" + uri.getRawQuery();
    }

    /** The {@code :authority}: host, and the port unless 443. */
    public String authority() {
        String host = uri.getHost();
        if (host.indexOf(':') >= 0 && !host.startsWith("[")) {
            host = "[" + host + "]";
        }
        return port() == 443 ? host : host + ":" + port();
    }

    /** Builds an {@link H3Request}. */
    public static final class Builder {
        private final URI uri;
        private String method = "GET";
        private final List<Map.Entry<String, String>> headers = new ArrayList<>();
        private final List<Map.Entry<String, String>> trailers = new ArrayList<>();
        private RequestBody body = RequestBody.none();
        private Duration timeout;

        private Builder(URI uri) {
            this.uri = Objects.requireNonNull(uri, "uri");
        }

        /** The method; upper case as given. */
        public Builder method(String method) {
            this.method = Objects.requireNonNull(method, "method");
            return this;
        }

        /** Adds a header field; the name is lower-cased (HTTP/3 requires it). */
        public Builder header(String name, String value) {
            headers.add(Map.entry(name.toLowerCase(Locale.ROOT), value));
            return this;
        }

        /** Adds a trailer field, sent after the body; the name is lower-cased (HTTP/3 requires it). */
        public Builder trailer(String name, String value) {
            trailers.add(Map.entry(name.toLowerCase(Locale.ROOT), value));
            return this;
        }

        /** The body. */
        public Builder body(RequestBody body) {
            this.body = Objects.requireNonNull(body, "body");
            return this;
        }

        /** The longest the exchange may take (headers and body); null for none. */
        public Builder timeout(Duration timeout) {
            this.timeout = timeout;
            return this;
        }

        /** The request. */
        public H3Request build() {
            return new H3Request(method, uri, headers, body, timeout, trailers);
        }
    }
}
