package dev.quicfleet.proxy;

import dev.quicfleet.metrics.UpstreamEjection;
import dev.quicfleet.metrics.UpstreamMetrics;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One upstream of the pool and its health, shared by every event loop: a few atomics, no locks.
 *
 * <p>Passive health: after {@code maxFails} consecutive connect failures, or {@code max5xx} consecutive 5xx responses
 * (when set), it is ejected for a back-off; when the back-off has passed the next exchange tries it again, which
 * either brings it back (a connect, or a response below 500, after a 5xx ejection) or ejects it for twice as long, up
 * to {@link ProxyConfig#MAX_BACKOFF}.
 *
 * <p>Active health ({@code --upstream-health-path}): a failed check takes it out until a check succeeds, whatever
 * the passive state; a successful check also ends a passive ejection.
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
    private final int max5xx;
    private final long baseBackoffNanos;
    private final Supplier<UpstreamMetrics> metrics;
    private final AtomicInteger failures = new AtomicInteger();
    private final AtomicInteger fives = new AtomicInteger();
    private final AtomicInteger ejections = new AtomicInteger();
    /** Connections open now on all event loops, idle or busy. */
    final AtomicInteger open = new AtomicInteger();
    private volatile long ejectedUntilNanos;
    /** Why it is (or was last) passively ejected; {@code null} when it is not. */
    private volatile UpstreamEjection ejectedFor;
    private volatile boolean checkFailed;

    Upstream(int index, URI uri, int maxFails, int max5xx, Duration backoff, Supplier<UpstreamMetrics> metrics) {
        this.index = index;
        this.uri = uri;
        this.address = new InetSocketAddress(uri.getHost(), uri.getPort());
        this.hostPort = uri.getRawAuthority();
        this.h2c = uri.getScheme().equals("h2c");
        this.tls = uri.getScheme().equals("https");
        this.maxFails = maxFails;
        this.max5xx = max5xx;
        this.baseBackoffNanos = backoff.toNanos();
        this.metrics = metrics;
    }

    /** Whether connections to it are made by {@link Http2Upstreams} (HTTP/2, or TLS that may negotiate it). */
    boolean multiplexed() {
        return h2c || tls;
    }

    /** Whether exchanges may pick this upstream at {@code nowNanos}. */
    boolean available(long nowNanos) {
        return !checkFailed && (ejectedFor == null || nowNanos - ejectedUntilNanos >= 0);
    }

    /** Whether it is ejected now (for reports, the health gauge and tests). */
    boolean ejected() {
        return !available(System.nanoTime());
    }

    int consecutiveFailures() {
        return failures.get();
    }

    void connected() {
        if (failures.get() != 0) {
            failures.set(0);
        }
        if (ejectedFor == UpstreamEjection.CONNECT_FAILURE) {
            back("connected after its back-off");
        }
    }

    void connectFailed(Throwable cause) {
        int n = failures.incrementAndGet();
        if (n >= maxFails) {
            eject(UpstreamEjection.CONNECT_FAILURE, n + " consecutive connect failures (last: " + cause.getMessage()
                    + ")");
        }
    }

    /** A response head arrived with {@code status}. */
    void responded(int status) {
        if (max5xx == 0) {
            return;
        }
        if (status >= 500) {
            int n = fives.incrementAndGet();
            if (n >= max5xx) {
                eject(UpstreamEjection.RESPONSE_5XX, n + " consecutive 5xx responses (last: " + status + ")");
            }
        } else {
            if (fives.get() != 0) {
                fives.set(0);
            }
            if (ejectedFor == UpstreamEjection.RESPONSE_5XX) {
                back("answered " + status + " after its back-off");
            }
        }
    }

    /** The result of an active health check: {@code problem} is {@code null} when it passed. */
    void checked(String problem) {
        if (problem == null) {
            if (checkFailed) {
                checkFailed = false;
                failures.set(0);
                fives.set(0);
                ejectedFor = null;
                ejections.set(0);
                log.info("upstream {} is back: its health check passed", uri);
            } else if (ejectedFor != null) {
                back("its health check passed");
            }
        } else if (!checkFailed) {
            checkFailed = true;
            metrics.get().ejected(index, UpstreamEjection.HEALTH_CHECK);
            log.warn("upstream {} ejected until its health check passes: {}", uri, problem);
        }
    }

    private void eject(UpstreamEjection reason, String why) {
        long now = System.nanoTime();
        if (ejectedFor != null && now - ejectedUntilNanos < 0) {
            return; // another event loop's attempt, begun before the ejection, failed too
        }
        int times = ejections.getAndIncrement();
        long backoff = Math.min(baseBackoffNanos << Math.min(times, 20), ProxyConfig.MAX_BACKOFF.toNanos());
        ejectedUntilNanos = now + backoff;
        ejectedFor = reason;
        metrics.get().ejected(index, reason);
        log.warn("upstream {} ejected for {} after {}", uri, ProxyConfig.format(Duration.ofNanos(backoff)), why);
    }

    private void back(String why) {
        ejectedFor = null;
        ejections.set(0);
        if (!checkFailed) {
            log.info("upstream {} is back: {}", uri, why);
        }
    }

    @Override
    public String toString() {
        return uri.toString();
    }
}
