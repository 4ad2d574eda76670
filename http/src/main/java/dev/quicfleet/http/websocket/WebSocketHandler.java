package dev.quicfleet.http.websocket;

/**
 * Serves one WebSocket session, whatever protocol it arrived on (HTTP/1.1 upgrade, HTTP/2 or HTTP/3 extended
 * CONNECT). Like a {@link dev.quicfleet.http.Handler}, each call runs on its own <em>virtual thread</em>: receive and
 * send block, and both bound memory (a handler that stops receiving stops the client's sending through flow
 * control; a client that stops reading blocks the handler's sends).
 *
 * <p>When the handler returns, the session is closed with {@code 1000} unless it is closed already; when it throws,
 * with {@code 1011}.
 *
 * <pre>{@code
 * WebSocketHandler echo = session -> {
 *     for (WebSocketMessage m; (m = session.receive()) != null; ) {
 *         session.send(m);
 *     }
 * };
 * Router.builder().route("/chat", new WebSocketService(echo)).build();
 * }</pre>
 */
@FunctionalInterface
public interface WebSocketHandler {

    /**
     * Runs the session until it ends.
     *
     * @throws Exception anything; the session closes with {@code 1011} and the worker logs it
     */
    void handle(WebSocketSession session) throws Exception;
}
