package dev.quicfleet.proxy;

import dev.quicfleet.http.ConnectionInfo;
import dev.quicfleet.http.Protocol;
import dev.quicfleet.metrics.UpstreamMetrics;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFactory;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.IoEventLoop;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.handler.ssl.SslContext;
import java.util.ArrayDeque;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;

/**
 * The upstream connections of one event loop: idle keep-alive connections per upstream, requests in flight per
 * upstream (for least-requests), the round-robin position. Touched only on its event loop, so nothing here needs a
 * lock; the upstream channels are registered on the same loop as the client connections they serve, so a proxied
 * byte never changes threads.
 */
final class LoopPool {

    private final EventLoop loop;
    private final ProxyConfig config;
    private final Upstream[] upstreams;
    private final Bootstrap bootstrap;
    private final ForwardedHeaders.Hop[][] hops;
    private final ProxyService service;
    private final ArrayDeque<UpstreamConnection>[] idle;
    /** The HTTP/2 (and TLS) connections of this loop; {@code null} when every upstream is {@code http://}. */
    private final Http2Upstreams http2;
    private final int[] inFlight;
    private int next;
    private boolean sweeping;
    /** Upstream connections open now, idle or busy (for tests and reports). */
    private volatile int open;

    /** A pool of {@code service}'s upstreams on {@code loop} ({@code https://} ones connect with its TLS context). */
    @SuppressWarnings("unchecked")
    LoopPool(EventLoop loop, ProxyConfig config, Upstream[] upstreams, ProxyService service) {
        this.loop = loop;
        this.service = service;
        this.config = config;
        this.upstreams = upstreams;
        this.idle = new ArrayDeque[upstreams.length];
        for (int i = 0; i < upstreams.length; i++) {
            idle[i] = new ArrayDeque<>();
        }
        this.inFlight = new int[upstreams.length];
        this.hops = hops(config);
        this.next = ThreadLocalRandom.current().nextInt(upstreams.length); // loops do not all start on the first
        this.bootstrap = new Bootstrap()
                .group(loop)
                .channelFactory(socketChannels(loop))
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE,
                        config.connectTimeout().toMillis()))
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.SO_KEEPALIVE, true)
                // Reads happen only when the client can take what they bring (see ProxyCall).
                .option(ChannelOption.AUTO_READ, false);
        boolean anyMultiplexed = false;
        for (Upstream u : upstreams) {
            anyMultiplexed |= u.multiplexed();
        }
        this.http2 = anyMultiplexed ? new Http2Upstreams(this, bootstrap, service.tls()) : null;
    }

    /** The socket channel type of the loop's transport: io_uring, epoll or NIO. */
    static ChannelFactory<SocketChannel> socketChannels(EventLoop loop) {
        if (loop instanceof IoEventLoop io) {
            if (io.isIoType(IoUringIoHandler.class)) {
                return IoUringSocketChannel::new;
            }
            if (io.isIoType(EpollIoHandler.class)) {
                return EpollSocketChannel::new;
            }
        }
        return NioSocketChannel::new;
    }

    EventLoop loop() {
        return loop;
    }

    ProxyConfig config() {
        return config;
    }

    /** The meters of this pool (the service's, bound or not). */
    UpstreamMetrics metrics() {
        return service.metrics();
    }

    int upstreamCount() {
        return upstreams.length;
    }

    int open() {
        return open;
    }

    /** What this hop adds to a request from {@code client}, and whether its forwarding fields are trusted. */
    ForwardedHeaders.Hop hop(ConnectionInfo client) {
        boolean trusted = config.trustedProxies().contains(client.remote());
        return hops[trusted ? 1 : 0][client.protocol().ordinal()];
    }

    /** Every {@link ForwardedHeaders.Hop} this pool's requests can have, by trust and protocol: none per request. */
    private static ForwardedHeaders.Hop[][] hops(ProxyConfig config) {
        ForwardedHeaders.Hop[][] hops = new ForwardedHeaders.Hop[2][Protocol.values().length];
        for (int trusted = 0; trusted < 2; trusted++) {
            for (Protocol protocol : Protocol.values()) {
                String via = !config.via() ? null : switch (protocol) {
                    case H3 -> "3 quicfleet";
                    case H2 -> "2 quicfleet";
                    case HTTP_1_1 -> "1.1 quicfleet";
                };
                hops[trusted][protocol.ordinal()] = new ForwardedHeaders.Hop(trusted == 1, config.forwarded(), via);
            }
        }
        return hops;
    }

    /** A healthy upstream other than {@code excluded}, or {@code null} when there is none. */
    Upstream choose(Upstream excluded) {
        long now = System.nanoTime();
        int n = upstreams.length;
        if (config.balance() == ProxyConfig.Balance.LEAST_REQUESTS && n > 1) {
            ThreadLocalRandom random = ThreadLocalRandom.current();
            int a = random.nextInt(n);
            int b = (a + 1 + random.nextInt(n - 1)) % n;
            boolean okA = upstreams[a] != excluded && upstreams[a].available(now);
            boolean okB = upstreams[b] != excluded && upstreams[b].available(now);
            if (okA && okB) {
                return inFlight[a] <= inFlight[b] ? upstreams[a] : upstreams[b];
            }
            if (okA || okB) {
                return okA ? upstreams[a] : upstreams[b];
            }
            // Both picks unavailable: the least loaded of the rest.
            Upstream best = null;
            for (Upstream u : upstreams) {
                if (u != excluded && u.available(now) && (best == null || inFlight[u.index] < inFlight[best.index])) {
                    best = u;
                }
            }
            return best;
        }
        for (int k = 0; k < n; k++) {
            Upstream u = upstreams[next];
            next = next + 1 == n ? 0 : next + 1;
            if (u != excluded && u.available(now)) {
                return u;
            }
        }
        return null;
    }

    /**
     * Hands {@code onDone} a connection to {@code upstream}: an idle kept-alive one at once, or a new one once
     * connected; or {@code null} and the connect failure, after the upstream's health has heard of it.
     */
    void acquire(Upstream upstream, BiConsumer<UpstreamConnection, Throwable> onDone) {
        acquire(upstream, false, onDone);
    }

    /**
     * As {@link #acquire(Upstream, BiConsumer)}; with {@code fresh}, never an idle kept-alive connection: for sending a
     * request again after its kept-alive connection closed under it, when the idle ones to that upstream are likely
     * dead too (an upstream that was killed resets them all).
     */
    void acquire(Upstream upstream, boolean fresh, BiConsumer<UpstreamConnection, Throwable> onDone) {
        ArrayDeque<UpstreamConnection> connections = idle[upstream.index];
        for (UpstreamConnection c; !fresh && (c = connections.pollLast()) != null; ) {
            if (c.channel().isActive()) {
                onDone.accept(c, null);
                return;
            }
        }
        if (upstream.multiplexed()) {
            http2.acquire(upstream, onDone); // a stream of a shared connection (or TLS that chose HTTP/1.1)
            return;
        }
        UpstreamConnection connection = new UpstreamConnection(this, upstream);
        ChannelFuture connect = bootstrap.clone().handler(connection).connect(upstream.address);
        open++; // written on this loop only; read by reports
        upstream.open.incrementAndGet();
        connect.channel().closeFuture().addListener(f -> {
            open--;
            upstream.open.decrementAndGet();
            idle[upstream.index].remove(connection);
        });
        connect.addListener(f -> {
            if (f.isSuccess()) {
                upstream.connected();
                onDone.accept(connection, null);
            } else {
                upstream.connectFailed(f.cause());
                onDone.accept(null, f.cause());
            }
        });
    }

    void started(Upstream upstream) {
        inFlight[upstream.index]++;
    }

    void finished(Upstream upstream) {
        inFlight[upstream.index]--;
    }

    /** Takes back a connection whose last response was complete and kept alive. */
    void release(UpstreamConnection connection) {
        Channel channel = connection.channel();
        ArrayDeque<UpstreamConnection> connections = idle[connection.upstream().index];
        if (!connection.pooled() || !channel.isActive() || connections.size() >= config.maxIdlePerUpstream()) {
            channel.close();
            return;
        }
        connection.idleSince(System.nanoTime());
        connections.addLast(connection);
        // A read while idle notices the upstream closing it (or sending what nobody asked for: then it is closed).
        channel.read();
        if (!sweeping) {
            sweeping = true;
            loop.schedule(this::sweep, 1, TimeUnit.SECONDS);
        }
    }

    /** Closes connections idle for longer than the keep-alive timeout; runs every second while any are idle. */
    private void sweep() {
        long limit = System.nanoTime() - config.keepAliveTimeout().toNanos();
        boolean any = false;
        for (ArrayDeque<UpstreamConnection> connections : idle) {
            // Oldest first: released connections are added at the end.
            for (UpstreamConnection c; (c = connections.peekFirst()) != null && c.idleSince() - limit < 0; ) {
                connections.pollFirst();
                c.channel().close();
            }
            any |= !connections.isEmpty();
        }
        sweeping = any;
        if (any) {
            loop.schedule(this::sweep, 1, TimeUnit.SECONDS);
        }
    }

    /** Counts a connection opened elsewhere (HTTP/2) until its channel closes. */
    void opened(Channel channel) {
        open++;
        channel.closeFuture().addListener(f -> open--);
    }

    /** Closes every idle connection (the service is closing). */
    void closeIdle() {
        if (http2 != null) {
            http2.closeIdle();
        }
        for (ArrayDeque<UpstreamConnection> connections : idle) {
            for (UpstreamConnection c; (c = connections.pollFirst()) != null; ) {
                c.channel().close();
            }
        }
    }
}
