package dev.quicfleet.http.websocket;

import dev.quicfleet.http.Headers;
import dev.quicfleet.http.HttpExchange;
import dev.quicfleet.http.Protocol;
import dev.quicfleet.http.Service;
import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.Objects;

/**
 * Mounts a {@link WebSocketHandler} on a route: accepts the opening handshake on all three protocols — HTTP/1.1
 * {@code Upgrade: websocket} (RFC 6455, answered {@code 101}), HTTP/2 extended CONNECT (RFC 8441) and HTTP/3
 * extended CONNECT (RFC 9220), both answered {@code 200} — and runs the handler on a virtual thread of its own.
 * A request that is not a WebSocket handshake gets {@code 426 Upgrade Required}; a bad key {@code 400}.
 *
 * <pre>{@code
 * Router.builder().route("/chat", new WebSocketService(session -> ...)).build();
 * }</pre>
 */
public final class WebSocketService implements Service {

    private static final String GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    private final WebSocketHandler handler;
    private final WebSocketLimits limits;

    /** A service with {@link WebSocketLimits#DEFAULT}. */
    public WebSocketService(WebSocketHandler handler) {
        this(handler, WebSocketLimits.DEFAULT);
    }

    public WebSocketService(WebSocketHandler handler, WebSocketLimits limits) {
        this.handler = Objects.requireNonNull(handler, "handler");
        this.limits = Objects.requireNonNull(limits, "limits");
    }

    @Override
    public void serve(HttpExchange exchange) {
        if (!"websocket".equals(exchange.upgradeProtocol())) {
            Headers headers = Headers.of("content-type", "text/plain; charset=utf-8", "sec-websocket-version", "13");
            if (exchange.protocol() == Protocol.HTTP_1_1) {
                // connection-specific: forbidden in HTTP/2 and HTTP/3 responses (RFC 9113 §8.2.2)
                headers.set("upgrade", "websocket");
            }
            exchange.respond(426, headers, text(exchange, "a WebSocket endpoint: open it with Upgrade: websocket "
                    + "(HTTP/1.1) or an extended CONNECT with :protocol websocket (HTTP/2, HTTP/3)\n"));
            return;
        }
        if (!"13".equals(exchange.headers().get("sec-websocket-version"))) {
            exchange.respond(426, Headers.of("content-type", "text/plain; charset=utf-8",
                    "sec-websocket-version", "13"), text(exchange, "unsupported Sec-WebSocket-Version "
                    + exchange.headers().get("sec-websocket-version") + " (expected: 13)\n"));
            return;
        }
        Headers reply = new Headers();
        if (exchange.protocol() == Protocol.HTTP_1_1) {
            String key = exchange.headers().get("sec-websocket-key");
            if (!validKey(key)) {
                exchange.respond(400, "text/plain; charset=utf-8",
                        "bad Sec-WebSocket-Key (expected: 16 bytes in base64, RFC 6455 section 4.1)\n");
                return;
            }
            reply.set("upgrade", "websocket");
            reply.set("connection", "upgrade");
            reply.set("sec-websocket-accept", accept(key));
        }
        exchange.acceptUpgrade(reply);
        new WebSocketConnection(exchange, limits, handler).start();
    }

    private static ByteBuf text(HttpExchange exchange, String text) {
        return exchange.alloc().buffer().writeBytes(text.getBytes(StandardCharsets.UTF_8));
    }

    private static boolean validKey(String key) {
        if (key == null) {
            return false;
        }
        try {
            return Base64.getDecoder().decode(key.trim()).length == 16;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /** The {@code Sec-WebSocket-Accept} for {@code key} (RFC 6455 §4.2.2). */
    public static String accept(String key) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-1")
                    .digest((key.trim() + GUID).getBytes(StandardCharsets.US_ASCII));
            return Base64.getEncoder().encodeToString(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-1 missing from the JDK", e);
        }
    }
}
