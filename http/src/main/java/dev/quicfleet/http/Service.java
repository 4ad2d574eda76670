package dev.quicfleet.http;

import java.util.Objects;

/**
 * Serves one HTTP exchange on the event loop of the connection it arrived on, whatever the protocol (HTTP/3,
 * HTTP/2 or HTTP/1.1). This is how the worker's built-in services (static files, the demo site, health, the proxy)
 * answer: no thread hop, so a response written while the request is being read leaves in the same packets as the
 * ACKs, HEADERS, DATA and FIN together.
 *
 * <p>A service must never block: everything it does is a call on {@link HttpExchange}, whose writes return at once
 * and report writability, and whose request body arrives in callbacks as fast as the service asks for it. Code that
 * blocks (a database call, a file upload to another service) belongs in a {@link Handler}, which
 * {@link #blocking(Handler)} runs on a virtual thread of its own.
 *
 * <pre>{@code
 * Service hello = exchange -> exchange.respond(200, "text/plain", "hello from " + exchange.protocol());
 * }</pre>
 */
@FunctionalInterface
public interface Service {

    /**
     * Starts serving {@code exchange}; called on its {@linkplain HttpExchange#eventLoop() event loop}. The service
     * may answer at once or later (from callbacks on the same event loop); the exchange ends with
     * {@link HttpExchange#end()}, a write with {@code endStream}, {@link HttpExchange#respond} or
     * {@link HttpExchange#abort()}.
     *
     * @throws Exception anything; before the response is committed the client gets a {@code 500}, after it the
     *                   stream is reset, and the worker logs it
     */
    void serve(HttpExchange exchange) throws Exception;

    /** A service that runs {@code handler} on a virtual thread per exchange: for code that blocks. */
    static Service blocking(Handler handler) {
        return new Blocking(handler);
    }

    /** The service of {@link #blocking(Handler)}. */
    record Blocking(Handler handler) implements Service {

        public Blocking {
            Objects.requireNonNull(handler, "handler");
        }

        @Override
        public void serve(HttpExchange exchange) {
            exchange.runBlocking(handler);
        }
    }
}
