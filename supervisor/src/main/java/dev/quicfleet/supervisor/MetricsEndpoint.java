package dev.quicfleet.supervisor;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.quicfleet.metrics.ClusterScrape;
import dev.quicfleet.metrics.Exposition;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.stream.IntStream;

/**
 * The cluster's one Prometheus endpoint: {@code GET /metrics} on the supervisor, every worker's series plus the
 * supervisor's own, merged into one exposition (Prometheus text or OpenMetrics by the {@code Accept} header). The
 * JDK's built-in HTTP server is enough for one scrape every few seconds on loopback; it never serves requests.
 */
final class MetricsEndpoint implements AutoCloseable {

    private final HttpServer server;

    private MetricsEndpoint(HttpServer server) {
        this.server = server;
    }

    /**
     * Serves {@code /metrics} on {@code address}.
     *
     * @throws IOException naming the address when it cannot be bound
     */
    static MetricsEndpoint start(InetSocketAddress address, ClusterScrape scrape, int workers) throws IOException {
        HttpServer server;
        try {
            server = HttpServer.create(address, 16);
        } catch (IOException e) {
            throw new IOException("failed to bind the metrics endpoint " + address.getHostString() + ":"
                    + address.getPort() + ": " + SlotSockets.explain(e) + " (set --metrics-address, or off)", e);
        }
        List<Integer> slots = IntStream.range(0, workers).boxed().toList();
        server.createContext("/metrics", exchange -> serve(exchange, scrape, slots));
        server.setExecutor(Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("metrics-", 0).factory()));
        server.start();
        return new MetricsEndpoint(server);
    }

    private static void serve(HttpExchange exchange, ClusterScrape scrape, List<Integer> slots) throws IOException {
        try (exchange) {
            if (!exchange.getRequestMethod().equals("GET") && !exchange.getRequestMethod().equals("HEAD")) {
                exchange.getResponseHeaders().set("allow", "GET, HEAD");
                exchange.sendResponseHeaders(405, -1);
                return;
            }
            Exposition exposition = scrape.scrape(slots, exchange.getRequestHeaders().getFirst("accept"));
            byte[] body = exposition.body().getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("content-type", exposition.contentType());
            boolean head = exchange.getRequestMethod().equals("HEAD");
            exchange.sendResponseHeaders(200, head ? -1 : body.length);
            if (!head) {
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(body);
                }
            }
        }
    }

    /** The bound address (the port differs from the configured one for port 0). */
    InetSocketAddress address() {
        return server.getAddress();
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
