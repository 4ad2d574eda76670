package dev.quicfleet.http;

/**
 * Serves one HTTP exchange, whatever the protocol (HTTP/3, HTTP/2 or HTTP/1.1) it arrived on.
 *
 * <p>Each call runs on its own <em>virtual thread</em>, so a handler is plain blocking code: read the request body
 * from {@link Request#body()}, call a database, write the response to {@link Response#body()}. Thousands of
 * handlers may be blocked at once in one worker without tying up an event loop. Writes block while the peer's flow
 * control window is exhausted (backpressure), so a handler never buffers a large response in memory.
 *
 * <p>When the handler returns, the response is completed: headers are sent if they were not yet, buffered body
 * bytes are flushed, trailers (if any) are sent and the stream is ended. When it throws before anything was sent,
 * the client gets a {@code 500}; when it throws after the response was committed, the stream is reset so the client
 * can tell the response is incomplete.
 *
 * <pre>{@code
 * Handler hello = (request, response) -> response.send(200, "text/plain", "hello from " + request.protocol());
 * }</pre>
 */
@FunctionalInterface
public interface Handler {

    /**
     * Serves {@code request} by writing {@code response}.
     *
     * @throws Exception anything; the worker turns it into a 500 or a stream reset and logs it
     */
    void handle(Request request, Response response) throws Exception;
}
