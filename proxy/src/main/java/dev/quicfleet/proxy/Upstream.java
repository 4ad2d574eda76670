package dev.quicfleet.proxy;

import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One upstream of the pool and its passive health, shared by every event loop: a few atomics, no locks. After
 * {@code maxFails} consecutive connect failures it is ejected for a back-off; when the back-off has passed the next
 * exchange tries it again (one connect), which either brings it back (the failures reset) or ejects it for twice as
 * long, up to {@link ProxyConfig#MAX_BACKOFF}.
 */
final class Upstream {

    private static final Logger log = LoggerFactory.getLogger(Upstream.class);

    final int index;
    final URI uri;
    /** Resolved when the service is built: connects never resolve names on an event loop. */
    final InetSocketAddress address;
    /** {@code host:port}, the {@code Host} sent when the client named no authority. */
    final String hostPort;
    /** {@code h2c://}: HTTP/2 with prior knowledge, cleartext. */
    final boolean h2c;
    /** {@code https://}: TLS, HTTP/2 when the upstream's ALPN picks {@code h2}, else HTTP/1.1. */
    final boolean tls;
    private final int maxFails;
    private final long baseBackoffNanos;
    private final AtomicInteger failures = new AtomicInteger();
    private final AtomicInteger ejections = new AtomicInteger();
    private volatile long ejectedUntilNanos;
    private volatile boolean ejected;

    Upstream(int index, URI uri, int maxFails, Duration backoff) {
        this.index = index;
        this.uri = uri;
        this.address = new InetSocketAddress(uri.getHost(), uri.getPort());
        this.hostPort = uri.getRawAuthority();
        this.h2c = uri.getScheme().equals("h2c");
        this.tls = uri.getScheme().equals("https");
        this.maxFails = maxFails;
        this.baseBackoffNanos = backoff.toNanos();
    }

    /** Whether connections to it are made by {@link Http2Upstreams} (HTTP/2, or TLS that may negotiate it). */
    boolean multiplexed() {
        return h2c || tls;
    }

    /** Whether exchanges may pick this upstream at {@code nowNanos}. */
    boolean available(long nowNanos) {
        return !ejected || nowNanos - ejectedUntilNanos >= 0;
    }

    /** Whether it is ejected now (for reports and tests). */
    boolean ejected() {
        return !available(System.nanoTime());
    }

    int consecutiveFailures() {
        return failures.get();
    }

    void connected() {
        if (failures.get() != 0 || ejected) {
            failures.set(0);
            ejections.set(0);
            if (ejected) {
                ejected = false;
                log.info("upstream {} is back: connected after its back-off", uri);
            }
        }
    }

    void connectFailed(Throwable cause) {
        int n = failures.incrementAndGet();
        if (n < maxFails) {
            return;
        }
        long now = System.nanoTime();
        if (ejected && now - ejectedUntilNanos < 0) {
            return; // another event loop's attempt, begun before the ejection, failed too
        }
        int times = ejections.getAndIncrement();
        long backoff = Math.min(baseBackoffNanos << Math.min(times, 20), ProxyConfig.MAX_BACKOFF.toNanos());
        ejectedUntilNanos = now + backoff;
        ejected = true;
        log.warn("upstream {} ejected for {} after {} consecutive connect failures (last: {})", uri,
                ProxyConfig.format(Duration.ofNanos(backoff)), n, cause.getMessage());
    }

    @Override
    public String toString() {
        return uri.toString();
    }
}
