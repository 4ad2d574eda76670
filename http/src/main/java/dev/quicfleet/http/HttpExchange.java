package dev.quicfleet.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.EventLoop;
import java.nio.charset.StandardCharsets;

/**
 * One request/response exchange as a {@link Service} sees it: the request head, the request body pulled with
 * demand, and a response sink whose writes return at once — one contract for HTTP/3, HTTP/2 and HTTP/1.1.
 *
 * <p>Threads: every method must be called on {@link #eventLoop()}; callbacks ({@link BodyReceiver},
 * {@link #onWritable}) run there too.
 *
 * <p>The response: {@link #respond} sends a complete response (HEADERS, DATA and the end of the stream in one
 * flush). A streamed one is {@link #head}, then {@link #write}s, then {@link #end()} (or the last write with
 * {@code endStream}). Writes never block: when {@link #isWritable()} turns false (the stream's flow-control window
 * or the socket buffer is full), stop writing and continue in {@link #onWritable}. The worker adds {@code date}
 * (and over TCP {@code alt-svc}); for {@code HEAD} requests it sends the head a {@code GET} gets and drops the body.
 *
 * <p>A client too slow to read the response for the body timeout is dropped by the worker (its stream reset or its
 * connection closed), as is a request body that stalls while the service asks for it.
 */
public interface HttpExchange extends RequestHead {

    /** The event loop of the exchange's channel; all calls and callbacks happen on it. */
    EventLoop eventLoop();

    /** The allocator for response bodies (pooled direct buffers). */
    ByteBufAllocator alloc();

    /**
     * Narrows {@link #routePath()} to {@code rest}, the part of the path below a route's prefix; used by
     * {@link Router}.
     */
    void routePath(String rest);

    // ---- the request body ----

    /**
     * Starts receiving the request body into {@code receiver} (once); bytes arrive only after {@link #demand()}.
     * When the body is already complete (no body), {@link BodyReceiver#onEnd} follows the first demand.
     * A body the service does not receive is discarded when the response ends.
     */
    void receiveBody(BodyReceiver receiver);

    /** Asks for more request body: what arrives in the next read from the network is passed on. */
    void demand();

    // ---- the response ----

    /**
     * Sends a complete response: {@code status}, {@code headers}, an exact {@code content-length} and {@code body}
     * (owned; released by the worker), then ends the exchange. HEADERS, DATA and the end go out in one flush.
     * The worker adds to {@code headers} ({@code content-length}, {@code date}); read-only headers are copied first.
     */
    void respond(int status, Headers headers, ByteBuf body);

    /** {@link #respond(int, Headers, ByteBuf)} with a {@code content-type} and a UTF-8 text body. */
    default void respond(int status, String contentType, String body) {
        Headers headers = new Headers();
        if (contentType != null) {
            headers.set("content-type", contentType);
        }
        respond(status, headers, alloc().buffer().writeBytes(body.getBytes(StandardCharsets.UTF_8)));
    }

    /**
     * Sends status and headers; the body follows with {@link #write} and {@link #end()}. The head leaves with the
     * first write (in the same packet when both come in one go); {@link #flush()} sends it at once, for a body that
     * may be slow to come (a proxied stream).
     */
    void head(int status, Headers headers);

    /** Pushes what was written so far (a head not yet followed by a write) to the network now. */
    void flush();

    /**
     * Sends body bytes (owned; released by the worker) and flushes them; {@code endStream} ends the response. Returns
     * at once; check {@link #isWritable()} before the next write.
     */
    void write(ByteBuf data, boolean endStream);

    /** Ends the response with no more body. */
    default void end() {
        end(null);
    }

    /** Ends the response with {@code trailers} (HTTP/1.1 sends them only with a chunked body). */
    void end(Headers trailers);

    /** Whether a write now would be taken without queueing in the worker. */
    boolean isWritable();

    /**
     * Runs {@code task} once, on the event loop, when the exchange becomes writable again — or when it fails or the
     * client goes away ({@link #isOpen()} tells which). Replaces an earlier task not yet run.
     */
    void onWritable(Runnable task);

    /** Whether the response can still be written: not ended, not aborted, the client still there. */
    boolean isOpen();

    /** Whether status and headers have been sent. */
    boolean committed();

    /** Aborts an incomplete response: the stream is reset (HTTP/3, HTTP/2) or the connection closed (HTTP/1.1). */
    void abort();

    /**
     * Hands the exchange to {@code handler} on a virtual thread of its own, with a blocking {@link Request} and
     * {@link Response}; the exchange ends when the handler returns. Call before anything was sent.
     */
    void runBlocking(Handler handler);

    /**
     * Runs {@code task} on the event loop once the connection's TLS handshake has completed: at once unless the request
     * arrived in TLS early data ({@link ConnectionInfo#earlyData()}) and the handshake is still under way. For a
     * proxy that got {@code 425 Too Early} from its upstream (RFC 8470 §5.2).
     *
     * @return {@code false} when the task will never run: the connection closed before its handshake completed
     */
    default boolean whenHandshakeDone(Runnable task) {
        task.run();
        return true;
    }

    /**
     * Whether the worker is draining (shutting down or reloading): an exchange that could last for long — a
     * WebSocket session, an endless stream — should wind down before the drain deadline cuts it off.
     */
    default boolean draining() {
        return false;
    }

    // ---- protocol switch (WebSocket) ----

    /**
     * The protocol the client asks to switch this exchange to, lower case, or {@code null}: HTTP/1.1's
     * {@code Upgrade} on a {@code GET} with {@code Connection: upgrade} (RFC 6455), or the {@code :protocol} of an
     * extended CONNECT on HTTP/2 (RFC 8441) or HTTP/3 (RFC 9220).
     */
    default String upgradeProtocol() {
        return null;
    }

    /**
     * Accepts {@link #upgradeProtocol()}: HTTP/1.1 answers {@code 101 Switching Protocols}, HTTP/2 and HTTP/3
     * {@code 200}, with {@code headers}. From then on {@link #receiveBody} and {@link #write} carry the new
     * protocol's bytes both ways (never compressed, no request body timeouts), and {@link #end()} closes the
     * tunnel (HTTP/1.1: the connection, once what was written is flushed). Call from {@link Service#serve}.
     *
     * @throws IllegalStateException when the request asks for no switch or the response is already committed
     */
    default void acceptUpgrade(Headers headers) {
        throw new IllegalStateException("acceptUpgrade: not supported by this exchange");
    }

    /** For the access log: the upstream ({@code host:port}) this exchange was forwarded to. Ignored by default. */
    default void logUpstream(String address) {
    }

    /**
     * For the access log: why this exchange failed ({@code upstream connect timeout}, say); the last reason given is
     * logged. Ignored by default.
     */
    default void logFailure(String reason) {
    }
}
