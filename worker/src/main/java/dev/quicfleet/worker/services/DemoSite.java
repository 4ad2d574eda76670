package dev.quicfleet.worker.services;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.quicfleet.http.BodyReceiver;
import dev.quicfleet.http.ConnectionInfo;
import dev.quicfleet.http.Headers;
import dev.quicfleet.http.HttpExchange;
import dev.quicfleet.http.Protocol;
import dev.quicfleet.http.RequestHead;
import dev.quicfleet.http.Router;
import dev.quicfleet.transport.ConfigValues;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * The embedded default site: what a worker serves when started with no arguments. Each page shows which worker,
 * protocol and TLS state served it, so a visitor can watch HTTP/3 discovery, load spreading and resumption happen.
 *
 * <ul>
 *   <li>{@code /} an HTML page (worker, protocol, resumption; the browser's own view of the protocol via script)</li>
 *   <li>{@code /whoami} the same facts as JSON</li>
 *   <li>{@code /echo} the request body back, any method</li>
 *   <li>{@code /sse} 20 server-sent events, one every 50 ms, each flushed on its own (a token stream);
 *       {@code ?n=} and {@code ?interval=} change count and pace</li>
 *   <li>{@code /bytes/{n}} n bytes (up to 1 GiB; {@code 64k}, {@code 10m} accepted), for throughput tests</li>
 *   <li>{@code /healthz} {@code 200 ok}, or {@code 503 draining} once the worker drains</li>
 *   <li>{@code /ws/echo}, {@code /ws/flood}: WebSocket on all three protocols ({@link DemoWebSockets})</li>
 * </ul>
 */
public final class DemoSite {

    /** The largest {@code /bytes/{n}} served. */
    static final long MAX_BYTES = 1L << 30;
    static final int SSE_EVENTS = 20;
    static final long SSE_INTERVAL_MILLIS = 50;

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String TEXT_PLAIN = "text/plain; charset=utf-8";
    /** The bytes of {@code /bytes}, repeated: a-z, 64 KiB, read-only and direct (sent without a copy). */
    private static final ByteBuffer PATTERN;
    private static final String[] TOKENS = ("QUIC carries HTTP/3 over UDP so a lost packet stalls only its own "
            + "stream and a resumed client can send its request in the very first flight").split(" ");

    static {
        ByteBuffer pattern = ByteBuffer.allocateDirect(64 * 1024);
        for (int i = 0; i < pattern.capacity(); i++) {
            pattern.put((byte) ('a' + i % 26));
        }
        PATTERN = pattern.flip().asReadOnlyBuffer();
    }

    private final WorkerIdentity identity;
    private final BooleanSupplier draining;
    private final DemoWebSockets webSockets = new DemoWebSockets();

    public DemoSite(WorkerIdentity identity, BooleanSupplier draining) {
        this.identity = identity;
        this.draining = draining;
    }

    /** Adds the demo routes to {@code router}; the HTML page on {@code /} only when {@code withPage}. */
    public Router.Builder addTo(Router.Builder router, boolean withPage) {
        router.route("/whoami", this::whoami)
                .route("/echo", DemoSite::echo)
                .route("/sse", DemoSite::sse)
                .route("/bytes", DemoSite::bytes)
                .route("/healthz", this::healthz)
                .route("/visits", this::visits);
        webSockets.addTo(router);
        return withPage ? router.route("/", this::page) : router;
    }

    Map<String, Object> facts(RequestHead request) {
        ConnectionInfo c = request.connection();
        Map<String, Object> facts = new LinkedHashMap<>();
        facts.put("worker", identity.slot());
        facts.put("pid", identity.pid());
        facts.put("protocol", c.protocol().alpn());
        facts.put("transport", identity.transport());
        facts.put("tlsResumed", c.tlsResumed());
        facts.put("earlyData", c.earlyData());
        facts.put("remote", c.remote() == null ? null : c.remote().getAddress().getHostAddress() + ":"
                + c.remote().getPort());
        facts.put("method", request.method());
        facts.put("authority", request.authority());
        return facts;
    }

    /** Keys {@code /visits} remembers (oldest forgotten first). */
    static final int VISIT_KEYS = 10_000;
    private final Map<String, Long> visits = new LinkedHashMap<>(16, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Long> eldest) {
            return size() > VISIT_KEYS;
        }
    };

    /**
     * {@code /visits?key=K} counts its GETs per key in this worker and answers the count: a GET with a side effect,
     * the kind of handler a replayed 0-RTT request would run twice (the 0-RTT replay test uses it).
     * {@code &peek=1} reads the count without adding to it.
     */
    void visits(HttpExchange exchange) throws IOException {
        String key = exchange.queryParam("key");
        if (key == null || key.isEmpty() || key.length() > 128) {
            exchange.respond(400, TEXT_PLAIN, "usage: /visits?key=K[&peek=1] (K: 1..128 characters)\n");
            return;
        }
        long count;
        synchronized (visits) {
            count = exchange.queryParam("peek") != null ? visits.getOrDefault(key, 0L)
                    : visits.merge(key, 1L, Long::sum);
        }
        Map<String, Object> body = new LinkedHashMap<>(facts(exchange));
        body.put("key", key);
        body.put("visits", count);
        respondNoStore(exchange, "application/json",
                JSON.writerWithDefaultPrettyPrinter().writeValueAsString(body) + "\n");
    }

    void whoami(HttpExchange exchange) throws IOException {
        respondNoStore(exchange, "application/json",
                JSON.writerWithDefaultPrettyPrinter().writeValueAsString(facts(exchange)) + "\n");
    }

    private static void respondNoStore(HttpExchange exchange, String contentType, String body) {
        Headers headers = new Headers();
        headers.add("content-type", contentType);
        headers.add("cache-control", "no-store");
        exchange.respond(200, headers, Unpooled.wrappedBuffer(body.getBytes(StandardCharsets.UTF_8)));
    }

    /**
     * Sends the request body back as it arrives, with the request's type and length: each chunk is written as it
     * comes, and more is asked for only while the response can take it, so a client that uploads faster than it
     * reads is slowed down by flow control, not buffered.
     */
    static void echo(HttpExchange exchange) {
        String type = exchange.headers().get("content-type");
        Headers headers = new Headers();
        headers.add("content-type", type != null ? type : "application/octet-stream");
        if (exchange.contentLength() >= 0) {
            headers.add("content-length", Long.toString(exchange.contentLength()));
        }
        exchange.head(200, headers);
        exchange.receiveBody(new BodyReceiver() {
            @Override
            public void onData(ByteBuf data) {
                exchange.write(data, false);
                if (exchange.isWritable()) {
                    exchange.demand();
                } else if (exchange.isOpen()) {
                    exchange.onWritable(() -> {
                        if (exchange.isOpen()) {
                            exchange.demand();
                        }
                    });
                }
            }

            @Override
            public void onEnd(Headers trailers) {
                exchange.end();
            }

            @Override
            public void onError(Throwable cause) {
                exchange.abort();
            }
        });
        exchange.demand();
    }

    /** Server-sent events, each written and flushed on its own, paced by the event loop's timer. */
    static void sse(HttpExchange exchange) {
        int events;
        long interval;
        try {
            String n = exchange.queryParam("n");
            String every = exchange.queryParam("interval");
            events = n == null ? SSE_EVENTS : Integer.parseInt(n);
            interval = every == null ? SSE_INTERVAL_MILLIS : ConfigValues.duration("interval", every).toMillis();
        } catch (IllegalArgumentException e) {
            events = -1;
            interval = -1;
        }
        if (events < 1 || events > 1000 || interval < 0 || interval > 10_000) {
            exchange.respond(400, TEXT_PLAIN, "usage: /sse?n=1..1000&interval=0ms..10s "
                    + "(default: 20 events, 50ms apart)\n");
            return;
        }
        Headers headers = new Headers();
        headers.add("content-type", "text/event-stream; charset=utf-8");
        headers.add("cache-control", "no-store");
        exchange.head(200, headers);
        exchange.flush(); // the client learns at once that the stream is open
        int count = events;
        long pace = interval;
        Runnable next = new Runnable() {
            private int i;

            @Override
            public void run() {
                if (!exchange.isOpen()) {
                    return;
                }
                String token = TOKENS[i % TOKENS.length];
                String event = "id: " + i + "\nevent: token\ndata: {\"i\":" + i + ",\"token\":\"" + token
                        + "\",\"t\":" + System.currentTimeMillis() + "}\n\n";
                exchange.write(Unpooled.wrappedBuffer(event.getBytes(StandardCharsets.UTF_8)), false);
                if (++i < count) {
                    exchange.eventLoop().schedule(this, pace, TimeUnit.MILLISECONDS);
                } else {
                    exchange.write(Unpooled.wrappedBuffer("event: done\ndata: {}\n\n"
                            .getBytes(StandardCharsets.UTF_8)), true);
                }
            }
        };
        next.run();
    }

    static void bytes(HttpExchange exchange) {
        String rest = exchange.routePath().substring(1);
        long n;
        try {
            n = ConfigValues.size("n", rest);
        } catch (IllegalArgumentException e) {
            exchange.respond(400, TEXT_PLAIN, "usage: /bytes/{n} with n a byte count such as 1024, "
                    + "64k or 10m, up to 1g\n");
            return;
        }
        if (n > MAX_BYTES) {
            exchange.respond(400, TEXT_PLAIN, "n: " + n + " (expected: at most " + MAX_BYTES + ")\n");
            return;
        }
        Headers headers = new Headers();
        headers.add("content-type", "application/octet-stream");
        headers.add("content-length", Long.toString(n));
        exchange.head(200, headers);
        if (n == 0) {
            exchange.end();
            return;
        }
        new Runnable() {
            private long left = n;

            @Override
            public void run() {
                while (left > 0 && exchange.isOpen()) {
                    if (!exchange.isWritable()) {
                        exchange.onWritable(this);
                        return;
                    }
                    int chunk = (int) Math.min(left, PATTERN.capacity());
                    left -= chunk;
                    // A slice of one read-only direct buffer: no copy, no allocation but the wrapper.
                    exchange.write(Unpooled.wrappedBuffer(PATTERN.slice(0, chunk)), left == 0);
                }
            }
        }.run();
    }

    void healthz(HttpExchange exchange) {
        Headers headers = new Headers();
        headers.add("content-type", TEXT_PLAIN);
        headers.add("cache-control", "no-store");
        boolean isDraining = draining.getAsBoolean();
        exchange.respond(isDraining ? 503 : 200, headers, Unpooled.wrappedBuffer(
                (isDraining ? "draining\n" : "ok\n").getBytes(StandardCharsets.US_ASCII)));
    }

    void page(HttpExchange request) {
        if (!request.routePath().equals("/") && !request.routePath().equals("/index.html")) {
            request.respond(404, TEXT_PLAIN, "not found\n");
            return;
        }
        Map<String, Object> facts = facts(request);
        StringBuilder rows = new StringBuilder();
        facts.forEach((k, v) -> rows.append("<tr><th>").append(k).append("</th><td id=\"").append(k).append("\">")
                .append(escape(String.valueOf(v))).append("</td></tr>\n"));
        String html = """
                <!doctype html>
                <html lang="en">
                <head>
                <meta charset="utf-8">
                <meta name="viewport" content="width=device-width, initial-scale=1">
                <title>quicfleet: worker %d over %s</title>
                <style>
                  body { font: 16px/1.5 system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; }
                  th { text-align: left; padding-right: 1.5rem; font-weight: 600; }
                  code, td { font-family: ui-monospace, monospace; }
                  .h3 { color: #0a7a2f; } .other { color: #a15c00; }
                </style>
                </head>
                <body>
                <h1>quicfleet</h1>
                <p>Served by <strong>worker %d</strong> over <strong class="%s">%s</strong>%s.</p>
                <table>
                %s<tr><th>browser saw</th><td id="next-hop">(script did not run)</td></tr>
                </table>
                <p>%s</p>
                <h2>Try</h2>
                <ul>
                  <li><a href="/whoami">/whoami</a> the same facts as JSON</li>
                  <li><a href="/sse">/sse</a> 20 server-sent events, one every 50 ms</li>
                  <li><a href="/bytes/1m">/bytes/1m</a> one mebibyte</li>
                  <li><code>curl -sk --data-binary @file https://%s/echo</code> echoes a body</li>
                  <li><a href="/healthz">/healthz</a></li>
                </ul>
                <script>
                  const nav = performance.getEntriesByType('navigation')[0];
                  document.getElementById('next-hop').textContent = nav ? nav.nextHopProtocol : 'unknown';
                </script>
                </body>
                </html>
                """.formatted(identity.slot(), request.protocol().alpn(), identity.slot(),
                request.protocol() == Protocol.H3 ? "h3" : "other", request.protocol().alpn(),
                Boolean.TRUE.equals(request.connection().tlsResumed()) ? ", on a resumed TLS session" : "",
                rows, request.protocol() == Protocol.H3
                        ? "This page came over HTTP/3 (QUIC)."
                        : "This page came over TCP. The response carried <code>alt-svc: h3</code>; reload and a "
                          + "browser that can reach UDP port " + escape(String.valueOf(portOf(request)))
                          + " switches to HTTP/3.",
                escape(request.authority().isEmpty() ? "localhost:4433" : request.authority()));
        respondNoStore(request, "text/html; charset=utf-8", html);
    }

    private static String portOf(RequestHead request) {
        return request.connection().local() == null ? "?" : Integer.toString(request.connection().local().getPort());
    }

    static String escape(String text) {
        StringBuilder out = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '<' -> out.append("&lt;");
                case '>' -> out.append("&gt;");
                case '&' -> out.append("&amp;");
                case '"' -> out.append("&quot;");
                case '\'' -> out.append("&#39;");
                default -> out.append(c);
            }
        }
        return out.toString();
    }
}
