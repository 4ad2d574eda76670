package dev.quicfleet.supervisor;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.quicfleet.metrics.ClusterScrape;
import dev.quicfleet.metrics.Exposition;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;

/**
 * The cluster's one Prometheus endpoint: {@code GET /metrics} on the supervisor, every worker's series plus the
 * supervisor's own, merged into one exposition (Prometheus text or OpenMetrics by the {@code Accept} header). The
 * JDK's built-in HTTP server is enough for one scrape every few seconds on loopback; it never serves requests.
 *
 * <p>The same address serves the status page: {@code GET /} (static HTML and JavaScript from the supervisor's
 * resources, charts drawn with the vendored uPlot) and {@code GET /status.json}, the slot table as
 * {@code supervisor status} prints it plus the last minutes of {@link StatusSampler} samples.
 */
final class MetricsEndpoint implements AutoCloseable {

    /** Where the status page's files are on the class path. */
    private static final String PAGE = "dev/quicfleet/supervisor/status/";
    /** The page's files: letters, digits, dots and dashes in at most a few directories, never "..". */
    private static final Pattern PAGE_FILE = Pattern.compile("(?:[A-Za-z0-9-]+/){0,3}[A-Za-z0-9.-]+\\.(html|js|css)");
    private static final Map<String, String> CONTENT_TYPES = Map.of("html", "text/html; charset=utf-8",
            "js", "text/javascript; charset=utf-8", "css", "text/css; charset=utf-8");
    /** One line of the slot table ({@code Supervisor.statusLines()}). */
    private static final Pattern SLOT_LINE = Pattern.compile(
            "slot (\\d+) pid (\\S+) state (\\S+) uptime (\\S+) restarts (\\d+) last-exit (.*)");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpServer server;
    private final StatusSampler sampler;

    private MetricsEndpoint(HttpServer server, StatusSampler sampler) {
        this.server = server;
        this.sampler = sampler;
    }

    /**
     * Serves {@code /metrics} and the status page on {@code address}; the page's slot table is read from the
     * supervisor's {@code controlSocket}, its samples from the {@code servingSlots}.
     *
     * @throws IOException naming the address when it cannot be bound
     */
    static MetricsEndpoint start(InetSocketAddress address, ClusterScrape scrape, int workers,
                                 Supplier<List<Integer>> servingSlots, Path controlSocket, String version)
            throws IOException {
        HttpServer server;
        try {
            server = HttpServer.create(address, 16);
        } catch (IOException e) {
            throw new IOException("failed to bind the metrics endpoint " + address.getHostString() + ":"
                    + address.getPort() + ": " + SlotSockets.explain(e) + " (set --metrics-address, or off)", e);
        }
        List<Integer> slots = IntStream.range(0, workers).boxed().toList();
        server.createContext("/metrics", exchange -> serve(exchange, scrape, slots));
        StatusSampler sampler = StatusSampler.start(scrape, servingSlots);
        server.createContext("/status.json", exchange -> {
            try (exchange) {
                if (allowed(exchange)) {
                    send(exchange, 200, "application/json", statusJson(sampler, controlSocket, version));
                }
            }
        });
        server.createContext("/", MetricsEndpoint::page);
        server.setExecutor(Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("metrics-", 0).factory()));
        server.start();
        return new MetricsEndpoint(server, sampler);
    }

    /** {@code /} and the files it loads; anything else is 404. */
    private static void page(HttpExchange exchange) throws IOException {
        try (exchange) {
            if (!allowed(exchange)) {
                return;
            }
            String path = exchange.getRequestURI().getPath();
            String file = path.equals("/") ? "index.html" : path.substring(1);
            Matcher m = PAGE_FILE.matcher(file);
            InputStream in = m.matches() ? MetricsEndpoint.class.getClassLoader().getResourceAsStream(PAGE + file)
                    : null;
            if (in == null) {
                send(exchange, 404, "text/plain; charset=utf-8",
                        ("not found: " + path + " (the status page is /, metrics are /metrics)\n")
                                .getBytes(StandardCharsets.UTF_8));
                return;
            }
            try (in) {
                exchange.getResponseHeaders().set("cache-control", "no-cache");
                send(exchange, 200, CONTENT_TYPES.get(m.group(1)), in.readAllBytes());
            }
        }
    }

    /** The slot table and the samples, for the status page (field names are the page's contract). */
    static byte[] statusJson(StatusSampler sampler, Path controlSocket, String version) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        root.put("version", version);
        root.put("now", System.currentTimeMillis());
        root.put("intervalSeconds", StatusSampler.INTERVAL.toSeconds());
        ArrayNode slots = root.putArray("slots");
        try {
            for (String line : StatusClient.status(controlSocket)) {
                ObjectNode slot = slots.addObject();
                slot.put("line", line);
                Matcher m = SLOT_LINE.matcher(line);
                if (m.matches()) {
                    slot.put("slot", Integer.parseInt(m.group(1)));
                    slot.put("pid", m.group(2));
                    slot.put("state", m.group(3));
                    slot.put("uptime", m.group(4));
                    slot.put("restarts", Integer.parseInt(m.group(5)));
                    slot.put("lastExit", m.group(6));
                }
            }
        } catch (IOException e) {
            root.put("slotsError", "the control socket " + controlSocket + " does not answer: " + e.getMessage());
        }
        ArrayNode samples = root.putArray("samples");
        for (StatusSampler.Sample s : sampler.samples()) {
            ObjectNode sample = samples.addObject();
            sample.put("time", s.time());
            s.rates().forEach(sample::put);
            sample.put("workersRunning", s.workersRunning());
            sample.put("restarts", s.restarts());
            sample.put("connections", s.connections());
            sample.put("keyAgeSeconds", s.keyAgeSeconds());
            sample.put("zeroRttShare", s.zeroRttShare());
        }
        return JSON.writeValueAsBytes(root);
    }

    private static boolean allowed(HttpExchange exchange) throws IOException {
        String method = exchange.getRequestMethod();
        if (method.equals("GET") || method.equals("HEAD")) {
            return true;
        }
        exchange.getResponseHeaders().set("allow", "GET, HEAD");
        exchange.sendResponseHeaders(405, -1);
        return false;
    }

    private static void send(HttpExchange exchange, int status, String contentType, byte[] body) throws IOException {
        exchange.getResponseHeaders().set("content-type", contentType);
        boolean head = exchange.getRequestMethod().equals("HEAD");
        exchange.sendResponseHeaders(status, head ? -1 : body.length);
        if (!head) {
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        }
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
        sampler.close();
        server.stop(0);
    }
}
