package dev.quicfleet.worker.protocol;

import dev.quicfleet.http.BodyReceiver;
import dev.quicfleet.http.ConnectionInfo;
import dev.quicfleet.http.Handler;
import dev.quicfleet.http.Headers;
import dev.quicfleet.http.HttpExchange;
import dev.quicfleet.http.Protocol;
import dev.quicfleet.http.Request;
import dev.quicfleet.http.Service;
import dev.quicfleet.worker.TestResponse;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.EventLoop;
import io.netty.channel.embedded.EmbeddedChannel;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * Builds an in-memory {@link Request} and runs a {@link Handler} or a {@link Service} against a
 * {@link TestResponse}, standing in for the worker in unit tests: no sockets; a service runs on an
 * {@link EmbeddedChannel}'s event loop driven by the test thread, a handler (also one a service hands the exchange
 * to) runs on the test thread.
 *
 * <pre>{@code
 * TestResponse response = TestExchange.get("/a.txt").header("range", "bytes=0-1").serve(handler);
 * }</pre>
 */
public final class TestExchange {

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
    public static TestExchange get(String target) {
        return request("GET", target);
    }

    /** A request with any method. */
    public static TestExchange request(String method, String target) {
        return new TestExchange(method, target);
    }

    /** Adds a request header field (repeat the call for several values). */
    public TestExchange header(String name, String value) {
        headers.add(name, value);
        return this;
    }

    /** Sets the authority the client addressed; {@link Request#host()} is derived from it as the worker does. */
    public TestExchange authority(String authority) {
        this.authority = authority;
        return this;
    }

    /** The request as a handler receives it from the worker. */
    public Request build() {
        return build(null);
    }

    private Request build(String routePath) {
        int question = target.indexOf('?');
        String path = question < 0 ? target : target.substring(0, question);
        String query = question < 0 ? "" : target.substring(question + 1);
        int colon = authority.lastIndexOf(':');
        String host = (colon > authority.lastIndexOf(']') ? authority.substring(0, colon) : authority)
                .toLowerCase(Locale.ROOT);
        return new TestRequest(method, target, path, query, authority, host, headers.asReadOnly(),
                routePath == null ? path : routePath);
    }

    /**
     * Runs {@code handler} on the built request and completes the response as the worker would when the handler
     * returns; exceptions from the handler propagate.
     */
    public TestResponse serve(Handler handler) throws Exception {
        TestResponse response = new TestResponse();
        handler.handle(build(), response);
        response.complete(method);
        return response;
    }

    /**
     * Runs {@code service} on the built request until the response ends, with writes taken at once (always
     * writable), and completes the response as the worker would; exceptions from the service propagate.
     */
    public TestResponse serve(Service service) throws Exception {
        EmbeddedChannel channel = new EmbeddedChannel();
        TestHttpExchange exchange = new TestHttpExchange(build(), channel);
        try {
            service.serve(exchange);
            for (int i = 0; i < 10_000 && !exchange.ended; i++) {
                channel.runPendingTasks();
                if (!exchange.ended && !channel.hasPendingTasks()) {
                    break;
                }
            }
            if (exchange.failure != null) {
                throw exchange.failure;
            }
            if (!exchange.ended) {
                throw new AssertionError("the service did not end the response");
            }
            exchange.response.complete(method);
            return exchange.response;
        } finally {
            channel.finishAndReleaseAll();
        }
    }

    /** The service's side of the exchange: writes go straight into a {@link TestResponse}. */
    private final class TestHttpExchange implements HttpExchange {

        private final Request request;
        private final EmbeddedChannel channel;
        private final TestResponse response = new TestResponse();
        private String routePath;
        private boolean ended;
        private boolean committed;
        private Exception failure;

        TestHttpExchange(Request request, EmbeddedChannel channel) {
            this.request = request;
            this.channel = channel;
            this.routePath = request.path();
        }

        // ---- the request head: the built request's ----

        @Override
        public String method() {
            return request.method();
        }

        @Override
        public String target() {
            return request.target();
        }

        @Override
        public String path() {
            return request.path();
        }

        @Override
        public String query() {
            return request.query();
        }

        @Override
        public String queryParam(String name) {
            return request.queryParam(name);
        }

        @Override
        public String routePath() {
            return routePath;
        }

        @Override
        public void routePath(String rest) {
            routePath = rest;
        }

        @Override
        public String authority() {
            return request.authority();
        }

        @Override
        public String host() {
            return request.host();
        }

        @Override
        public String scheme() {
            return request.scheme();
        }

        @Override
        public Headers headers() {
            return request.headers();
        }

        @Override
        public long contentLength() {
            return request.contentLength();
        }

        @Override
        public ConnectionInfo connection() {
            return request.connection();
        }

        @Override
        public EventLoop eventLoop() {
            return channel.eventLoop();
        }

        @Override
        public ByteBufAllocator alloc() {
            return channel.alloc();
        }

        // ---- the request body: none ----

        private BodyReceiver receiver;

        @Override
        public void receiveBody(BodyReceiver bodyReceiver) {
            receiver = bodyReceiver;
        }

        @Override
        public void demand() {
            if (receiver != null) {
                BodyReceiver r = receiver;
                receiver = null;
                r.onEnd(new Headers().asReadOnly());
            }
        }

        // ---- the response: into TestResponse ----

        @Override
        public void respond(int status, Headers headers, ByteBuf body) {
            headers = copy(headers);
            headers.set("content-length", Integer.toString(body.readableBytes()));
            head(status, headers);
            write(body, true);
        }

        @Override
        public void head(int status, Headers headers) {
            if (committed) {
                throw new IllegalStateException("head: already committed");
            }
            committed = true;
            response.status(status);
            copy(headers).forEach(field -> response.headers().add(field.getKey(), field.getValue()));
            // As the worker: HEAD and bodiless statuses end with the head; what is written after it is dropped.
            ended = request.method().equals("HEAD") || Exchange.noBodyStatus(status);
        }

        @Override
        public void write(ByteBuf data, boolean endStream) {
            try {
                if (ended) {
                    if (!committed || !(request.method().equals("HEAD") || Exchange.noBodyStatus(response.status()))) {
                        throw new AssertionError("write after the end of the response");
                    }
                    return;
                }
                if (!committed) {
                    head(200, new Headers());
                }
                byte[] bytes = new byte[data.readableBytes()];
                data.readBytes(bytes);
                response.body().write(bytes);
            } catch (IOException e) {
                failure = e;
            } finally {
                data.release();
            }
            if (endStream) {
                end(null);
            }
        }

        @Override
        public void end(Headers trailers) {
            if (ended) {
                return;
            }
            if (!committed) {
                head(200, new Headers());
            }
            if (trailers != null) {
                trailers.forEach(field -> response.trailers().add(field.getKey(), field.getValue()));
            }
            ended = true;
        }

        @Override
        public void flush() {
            // everything is written at once here
        }

        @Override
        public boolean isWritable() {
            return !ended;
        }

        @Override
        public void onWritable(Runnable task) {
            channel.eventLoop().execute(task);
        }

        @Override
        public boolean isOpen() {
            return !ended;
        }

        @Override
        public boolean committed() {
            return committed;
        }

        @Override
        public void abort() {
            ended = true;
            failure = new IOException("the service aborted the response");
        }

        @Override
        public void runBlocking(Handler handler) {
            try {
                handler.handle(build(routePath), response);
            } catch (Exception e) {
                failure = e;
            }
            ended = true;
        }

        private Headers copy(Headers headers) {
            Headers copy = new Headers();
            headers.forEach(field -> copy.add(field.getKey(), field.getValue()));
            return copy;
        }
    }

    private record TestRequest(String method, String target, String path, String query, String authority,
                               String host, Headers headers, String routePath) implements Request {

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
