package dev.quicfleet.worker;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * Builds an in-memory {@link Request} and runs a {@link Handler} against a {@link TestResponse}, standing in for
 * the worker in handler tests: no sockets, no event loop, the handler runs on the test thread.
 *
 * <pre>{@code
 * TestResponse response = TestExchange.get("/a.txt").header("range", "bytes=0-1").serve(handler);
 * }</pre>
 */
final class TestExchange {

    private static final ConnectionInfo CONNECTION = new ConnectionInfo(Protocol.H3,
            new InetSocketAddress("127.0.0.1", 50_000), new InetSocketAddress("127.0.0.1", 4433), false, false);

    private final String method;
    private final String target;
    private final Headers headers = new Headers();
    private String authority = "localhost:4433";

    private TestExchange(String method, String target) {
        this.method = method;
        this.target = target;
    }

    /** A {@code GET} for {@code target} (path and query, percent-encoded as on the wire). */
    static TestExchange get(String target) {
        return request("GET", target);
    }

    /** A request with any method. */
    static TestExchange request(String method, String target) {
        return new TestExchange(method, target);
    }

    /** Adds a request header field (repeat the call for several values). */
    TestExchange header(String name, String value) {
        headers.add(name, value);
        return this;
    }

    /** Sets the authority the client addressed; {@link Request#host()} is derived from it as the worker does. */
    TestExchange authority(String authority) {
        this.authority = authority;
        return this;
    }

    /** The request as a handler receives it from the worker. */
    Request build() {
        int question = target.indexOf('?');
        String path = question < 0 ? target : target.substring(0, question);
        String query = question < 0 ? "" : target.substring(question + 1);
        int colon = authority.lastIndexOf(':');
        String host = (colon > authority.lastIndexOf(']') ? authority.substring(0, colon) : authority)
                .toLowerCase(Locale.ROOT);
        return new TestRequest(method, target, path, query, authority, host, headers.asReadOnly());
    }

    /**
     * Runs {@code handler} on the built request and completes the response as the worker would when the handler
     * returns; exceptions from the handler propagate.
     */
    TestResponse serve(Handler handler) throws Exception {
        TestResponse response = new TestResponse();
        handler.handle(build(), response);
        response.complete(method);
        return response;
    }

    private record TestRequest(String method, String target, String path, String query, String authority,
                               String host, Headers headers) implements Request {

        @Override
        public String queryParam(String name) {
            for (String pair : query.split("&")) {
                int equals = pair.indexOf('=');
                String key = equals < 0 ? pair : pair.substring(0, equals);
                if (URLDecoder.decode(key, StandardCharsets.UTF_8).equals(name)) {
                    return equals < 0 ? "" : URLDecoder.decode(pair.substring(equals + 1), StandardCharsets.UTF_8);
                }
            }
            return null;
        }

        @Override
        public String routePath() {
            return path;
        }

        @Override
        public String scheme() {
            return "https";
        }

        @Override
        public long contentLength() {
            return 0;
        }

        @Override
        public InputStream body() {
            return new ByteArrayInputStream(new byte[0]);
        }

        @Override
        public Headers trailers() {
            return new Headers().asReadOnly();
        }

        @Override
        public ConnectionInfo connection() {
            return CONNECTION;
        }
    }
}
