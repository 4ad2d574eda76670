package dev.quicfleet.proxy;

import io.netty.bootstrap.Bootstrap;
import io.netty.handler.ssl.SslContext;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;

/**
 * The multiplexed connections of one event loop to its {@code h2c://} and {@code https://} upstreams: per upstream
 * one HTTP/2 connection, or a few when the upstream's {@code SETTINGS_MAX_CONCURRENT_STREAMS} is reached; each
 * exchange gets a stream of one of them. Touched only on its event loop.
 *
 * <p>A TLS upstream whose ALPN picks {@code http/1.1} gets HTTP/1.1 instead: that connection serves one exchange and
 * then waits in the {@link LoopPool}'s keep-alive pool like an {@code http://} one.
 */
final class Http2Upstreams {

    private final LoopPool pool;
    private final Bootstrap bootstrap;
    private final SslContext tls;
    private final List<Http2UpstreamConnection>[] connections;

    @SuppressWarnings("unchecked")
    Http2Upstreams(LoopPool pool, Bootstrap bootstrap, SslContext tls) {
        this.pool = pool;
        this.bootstrap = bootstrap;
        this.tls = tls;
        int n = pool.upstreamCount();
        this.connections = new List[n];
        for (int i = 0; i < n; i++) {
            connections[i] = new ArrayList<>(1);
        }
    }

    /** Hands {@code onDone} a stream to {@code upstream} once one can be opened, or the failure. */
    void acquire(Upstream upstream, BiConsumer<UpstreamConnection, Throwable> onDone) {
        List<Http2UpstreamConnection> list = connections[upstream.index];
        for (Http2UpstreamConnection c : list) {
            if (c.hasRoom()) {
                c.openStream(onDone);
                return;
            }
        }
        Http2UpstreamConnection c = new Http2UpstreamConnection(this, upstream);
        list.add(c);
        c.connect(bootstrap.clone());
        c.openStream(onDone);
    }

    LoopPool pool() {
        return pool;
    }

    SslContext tls() {
        return tls;
    }

    /** {@code c} is closed: no new stream goes to it. */
    void removed(Http2UpstreamConnection c) {
        connections[c.upstream().index].remove(c);
    }

    /** Closes the connections without streams (the service is closing). */
    void closeIdle() {
        for (List<Http2UpstreamConnection> list : connections) {
            for (Http2UpstreamConnection c : List.copyOf(list)) {
                c.closeIfIdle();
            }
        }
    }
}
