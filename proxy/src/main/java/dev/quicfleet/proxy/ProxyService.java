package dev.quicfleet.proxy;

import dev.quicfleet.http.HttpExchange;
import dev.quicfleet.http.Service;
import dev.quicfleet.metrics.UpstreamMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.channel.EventLoop;
import io.netty.handler.ssl.SslContext;
import io.netty.util.concurrent.FastThreadLocal;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A reverse proxy: forwards every exchange to one of a pool of upstreams and streams the response back, on the
 * exchange's event loop: HTTP/1.1 ({@code http://}), HTTP/2 with prior knowledge ({@code h2c://}) or TLS with ALPN
 * ({@code https://}: HTTP/2 when the upstream offers it, else HTTP/1.1). Trailers cross in both directions (gRPC).
 * Each event loop keeps its own connections to the upstreams (keep-alive for HTTP/1.1, multiplexed for HTTP/2),
 * registered on that loop: no thread hop, no lock, no copy between the client's stream and the upstream's socket
 * beyond what the protocols need. Streaming works both ways with backpressure, and every piece of response body is flushed as it
 * arrives (event streams reach the client event by event). See {@link ProxyConfig} for balancing, health and
 * timeouts. A WebSocket, in any of the client's three forms, becomes an HTTP/1.1 upgrade towards the upstream
 * ({@link WebSocketTunnel}).
 *
 * <pre>{@code
 * Router router = Router.builder()
 *         .route("/", new ProxyService(ProxyConfig.builder("http://127.0.0.1:8080").build()))
 *         .build();
 * }</pre>
 */
public final class ProxyService implements Service, AutoCloseable {

    private final ProxyConfig config;
    private final Upstream[] upstreams;
    private final FastThreadLocal<LoopPool> pools = new FastThreadLocal<>();
    private final Set<LoopPool> allPools = ConcurrentHashMap.newKeySet();
    private final List<String> names;
    private final AtomicReference<HealthChecker> healthChecker = new AtomicReference<>();
    private volatile UpstreamMetrics metrics;
    /** For {@code https://} upstreams; {@code null} without any. */
    private final SslContext tls;

    /** A proxy to {@code config}'s upstreams (their names are resolved here, once). */
    public ProxyService(ProxyConfig config) {
        this.config = config;
        List<URI> uris = config.upstreams();
        this.upstreams = new Upstream[uris.size()];
        List<String> names = new ArrayList<>(uris.size());
        for (int i = 0; i < upstreams.length; i++) {
            upstreams[i] = new Upstream(i, uris.get(i), config.maxFails(), config.max5xx(), config.failBackoff(),
                    this::metrics);
            names.add(uris.get(i).toString());
        }
        this.names = List.copyOf(names);
        this.metrics = UpstreamMetrics.unbound(this.names);
        this.tls = uris.stream().anyMatch(u -> u.getScheme().equals("https")) ? UpstreamTls.context(config) : null;
    }

    /**
     * Registers this pool's meters ({@code quicfleet_upstream_*}, tagged {@code pool}) in {@code registry}, the
     * worker's; until then they are kept but not exported. Call once, at start-up.
     */
    public ProxyService bindMetrics(MeterRegistry registry, String pool) {
        metrics = new UpstreamMetrics(registry, pool, names, i -> upstreams[i].ejected() ? 0 : 1,
                i -> upstreams[i].open.get());
        return this;
    }

    /** The meters exchanges record into now. */
    public UpstreamMetrics metrics() {
        return metrics;
    }

    /** The TLS context of {@code https://} upstreams; {@code null} without any. */
    SslContext tls() {
        return tls;
    }

    /**
     * Starts the active health checks ({@link ProxyConfig#healthPath()}) on {@code loop}, if configured and not
     * started yet. Without this call they start on the event loop of the first exchange.
     */
    public void startHealthChecks(EventLoop loop) {
        if (config.healthPath() == null || healthChecker.get() != null) {
            return;
        }
        HealthChecker checker = new HealthChecker(loop, config, upstreams);
        if (healthChecker.compareAndSet(null, checker)) {
            checker.start();
        }
    }

    public ProxyConfig config() {
        return config;
    }

    @Override
    public void serve(HttpExchange exchange) {
        if (config.healthPath() != null && healthChecker.get() == null) {
            startHealthChecks(exchange.eventLoop());
        }
        if ("websocket".equals(exchange.upgradeProtocol())) {
            new WebSocketTunnel(exchange, pool(exchange.eventLoop())).start();
            return;
        }
        new ProxyCall(exchange, pool(exchange.eventLoop())).start();
    }

    private LoopPool pool(EventLoop loop) {
        LoopPool pool = pools.getIfExists();
        if (pool == null || pool.loop() != loop) {
            pool = new LoopPool(loop, config, upstreams, this);
            pools.set(pool);
            allPools.add(pool);
        }
        return pool;
    }

    /** An upstream's passive health as the pool sees it now. */
    public record UpstreamState(URI uri, boolean ejected, int consecutiveFailures) {
    }

    /** Every upstream's health, in configuration order. */
    public List<UpstreamState> upstreamStates() {
        List<UpstreamState> states = new ArrayList<>(upstreams.length);
        for (Upstream u : upstreams) {
            states.add(new UpstreamState(u.uri, u.ejected(), u.consecutiveFailures()));
        }
        return states;
    }

    /** Upstream connections open now on all event loops, idle or busy. */
    public int openConnections() {
        int open = 0;
        for (LoopPool pool : allPools) {
            open += pool.open();
        }
        return open;
    }

    /** Closes the idle upstream connections; busy ones close when their exchange ends or their loop stops. */
    @Override
    public void close() {
        HealthChecker checker = healthChecker.get();
        if (checker != null && !checker.loop().isShuttingDown()) {
            checker.loop().execute(checker::stop); // else its schedule ends with its event loop
        }
        for (LoopPool pool : allPools) {
            pool.loop().execute(pool::closeIdle);
        }
    }
}
