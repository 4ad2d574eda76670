package dev.quicfleet.proxy;

import dev.quicfleet.http.HttpExchange;
import dev.quicfleet.http.Service;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.FastThreadLocal;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A reverse proxy: forwards every exchange to one of a pool of HTTP/1.1 upstreams and streams the response back, on
 * the exchange's event loop. Each event loop keeps its own keep-alive connections to the upstreams, registered on
 * that loop: no thread hop, no lock, no copy between the client's stream and the upstream's socket beyond what the
 * protocols need. Streaming works both ways with backpressure, and every piece of response body is flushed as it
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

    /** A proxy to {@code config}'s upstreams (their names are resolved here, once). */
    public ProxyService(ProxyConfig config) {
        this.config = config;
        List<URI> uris = config.upstreams();
        this.upstreams = new Upstream[uris.size()];
        for (int i = 0; i < upstreams.length; i++) {
            upstreams[i] = new Upstream(i, uris.get(i), config.maxFails(), config.failBackoff());
        }
    }

    public ProxyConfig config() {
        return config;
    }

    @Override
    public void serve(HttpExchange exchange) {
        if ("websocket".equals(exchange.upgradeProtocol())) {
            new WebSocketTunnel(exchange, pool(exchange.eventLoop())).start();
            return;
        }
        new ProxyCall(exchange, pool(exchange.eventLoop())).start();
    }

    private LoopPool pool(EventLoop loop) {
        LoopPool pool = pools.getIfExists();
        if (pool == null || pool.loop() != loop) {
            pool = new LoopPool(loop, config, upstreams);
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
        for (LoopPool pool : allPools) {
            pool.loop().execute(pool::closeIdle);
        }
    }
}
