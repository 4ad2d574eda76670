package dev.quicfleet.worker.services;

import dev.quicfleet.http.HttpExchange;
import dev.quicfleet.http.Router;
import dev.quicfleet.http.websocket.WebSocketLimits;
import dev.quicfleet.http.websocket.WebSocketMessage;
import dev.quicfleet.http.websocket.WebSocketService;
import dev.quicfleet.http.websocket.WebSocketSession;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The demo site's WebSocket endpoints, on HTTP/1.1, HTTP/2 and HTTP/3 alike:
 * <ul>
 *   <li>{@code /ws/echo} every message back as it came (text or binary); the text {@code close CODE REASON} closes
 *       the session with that code. Frames over 64 KiB and messages over 256 KiB close it with {@code 1009}.</li>
 *   <li>{@code /ws/echo-short} the same with a 1 s idle timeout and a ping after 300 ms of silence, to watch the
 *       keep-alive: a client that answers pings stays, one that does not is closed with {@code 1001}.</li>
 *   <li>{@code /ws/flood?bytes=N} sends N bytes (up to 1 GiB) in 16 KiB binary messages, as fast as the client
 *       reads, then closes with {@code 1000}.</li>
 *   <li>{@code /ws/hold} receives nothing until {@code /ws/hold-release} is requested, then counts the bytes of the
 *       messages that follow up to the text {@code done} and answers {@code count N}: a handler that stops receiving
 *       stops the client's sending at a bounded amount.</li>
 *   <li>{@code /ws/flood-status} how far the last flood got: bytes whose send returned, and whether a send is
 *       blocked now — a client that stops reading stops the flood at a bounded amount.</li>
 * </ul>
 */
final class DemoWebSockets {

    static final int MAX_FRAME = 64 * 1024;
    static final int MAX_MESSAGE = 256 * 1024;
    static final long MAX_FLOOD = 1L << 30;
    private static final int FLOOD_MESSAGE = 16 * 1024;

    private final AtomicLong floodSent = new AtomicLong();
    private volatile CompletableFuture<Void> held = new CompletableFuture<>();
    private volatile boolean floodSending;
    private volatile long floodBuffered;

    Router.Builder addTo(Router.Builder router) {
        WebSocketLimits limits = WebSocketLimits.DEFAULT.withSizes(MAX_FRAME, MAX_MESSAGE);
        return router.route("/ws/echo", new WebSocketService(DemoWebSockets::echo, limits))
                .route("/ws/echo-short", new WebSocketService(DemoWebSockets::echo,
                        limits.withTimeouts(Duration.ofSeconds(1), Duration.ofMillis(300))))
                .route("/ws/flood", new WebSocketService(this::flood, limits))
                .route("/ws/flood-status", this::floodStatus)
                .route("/ws/hold", new WebSocketService(this::hold, limits))
                .route("/ws/hold-release", this::holdRelease);
    }

    static void echo(WebSocketSession session) throws Exception {
        for (WebSocketMessage m; (m = session.receive()) != null; ) {
            if (m.text() && m.asText().startsWith("close ")) {
                String[] parts = m.asText().split(" ", 3);
                session.close(Integer.parseInt(parts[1]), parts.length > 2 ? parts[2] : "");
                continue;
            }
            session.send(m);
        }
    }

    private void flood(WebSocketSession session) throws Exception {
        String given = session.request().queryParam("bytes");
        long total = given == null ? 1 << 20 : Math.clamp(Long.parseLong(given), 0, MAX_FLOOD);
        byte[] chunk = new byte[FLOOD_MESSAGE];
        for (int i = 0; i < chunk.length; i++) {
            chunk[i] = (byte) ('a' + i % 26);
        }
        floodSent.set(0);
        for (long sent = 0; sent < total; ) {
            int n = (int) Math.min(chunk.length, total - sent);
            byte[] message = n == chunk.length ? chunk : Arrays.copyOf(chunk, n);
            floodBuffered = session.bufferedAmount();
            floodSending = true;
            session.send(message);
            floodSending = false;
            sent += n;
            floodSent.set(sent);
        }
        session.close(WebSocketSession.NORMAL_CLOSURE, "flood done");
    }

    private void hold(WebSocketSession session) throws Exception {
        CompletableFuture<Void> gate = new CompletableFuture<>();
        held = gate;
        gate.get(); // a virtual thread: blocking here holds nothing but this session
        long count = 0;
        for (WebSocketMessage m; (m = session.receive()) != null; ) {
            if (m.text() && m.asText().equals("done")) {
                session.send("count " + count);
                break;
            }
            count += m.data().length;
        }
    }

    private void holdRelease(HttpExchange exchange) {
        boolean released = held.complete(null);
        exchange.respond(200, "text/plain; charset=utf-8", released ? "released\n" : "nothing held\n");
    }

    private void floodStatus(HttpExchange exchange) {
        exchange.respond(200, "application/json", "{\"sent\": " + floodSent.get() + ", \"sending\": " + floodSending
                + ", \"buffered\": " + floodBuffered + "}\n");
    }
}
