package dev.quicfleet.transport;

import java.net.InetAddress;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Token buckets that bound how many stateless resets a worker sends: per client host (IP address) and in total.
 * RFC 9000 §10.3 lets an endpoint limit resets, and it must: each costs an HMAC and a packet, and packets with
 * forged sources could otherwise aim a stream of resets at a victim.
 *
 * <p>A bucket holds up to {@code burst} resets and refills at {@code perSecond}. The per-host buckets live in a map
 * bounded to {@code maxHosts} entries, evicting the least recently used — so spoofed sources cannot grow memory;
 * an evicted host merely gets a fresh burst, and the global bucket still caps the total. Time comes from an injected
 * nanosecond clock. Thread-safe (one lock; a worker calls it only for packets it cannot place).
 *
 * @param perHostPerSecond resets per second one client address may receive; default 5
 * @param perHostBurst     resets one client address may receive at once; default 10
 * @param totalPerSecond   resets per second in total; default 1000
 * @param totalBurst       resets at once in total; default 2000
 * @param maxHosts         client addresses remembered; default 65536
 * @param nanoClock        monotonic time in nanoseconds ({@code System::nanoTime})
 */
public record ResetRateLimiter(double perHostPerSecond, int perHostBurst, double totalPerSecond, int totalBurst,
                               int maxHosts, LongSupplier nanoClock) {

    /** The defaults listed on the record, on {@link System#nanoTime()}. */
    public static ResetRateLimiter defaults() {
        return new ResetRateLimiter(5, 10, 1000, 2000, 65_536, System::nanoTime);
    }

    /** Validates every limit; messages name the limit, the value and the accepted range. */
    public ResetRateLimiter {
        checkRate("stateless-reset-rate-per-host", perHostPerSecond);
        checkRate("stateless-reset-rate", totalPerSecond);
        checkRange("stateless-reset-burst-per-host", perHostBurst, 1, 1_000_000);
        checkRange("stateless-reset-burst", totalBurst, 1, 10_000_000);
        checkRange("stateless-reset-hosts", maxHosts, 1, 10_000_000);
        if (nanoClock == null) {
            throw new IllegalArgumentException("nanoClock: null (expected: a clock, e.g. System::nanoTime)");
        }
    }

    /** A new limiter with empty history (every bucket full). */
    public Limiter newLimiter() {
        return new Limiter(this);
    }

    /** The mutable state of one {@link ResetRateLimiter} configuration. */
    public static final class Limiter {

        private final ResetRateLimiter config;
        private final Bucket total;
        private final Map<InetAddress, Bucket> hosts;

        Limiter(ResetRateLimiter config) {
            this.config = config;
            this.total = new Bucket(config.totalBurst, config.nanoClock.getAsLong());
            this.hosts = new LinkedHashMap<>(16, 0.75f, true) {
                @Override
                protected boolean removeEldestEntry(Map.Entry<InetAddress, Bucket> eldest) {
                    return size() > config.maxHosts;
                }
            };
        }

        /**
         * Whether a stateless reset may be sent to {@code host} now; takes one token from its bucket and from the
         * total when it may. A refusal takes nothing.
         */
        public synchronized boolean tryAcquire(InetAddress host) {
            long now = config.nanoClock.getAsLong();
            total.refill(now, config.totalPerSecond, config.totalBurst);
            Bucket bucket = hosts.get(host);
            if (bucket == null) {
                bucket = new Bucket(config.perHostBurst, now);
                hosts.put(host, bucket);
            } else {
                bucket.refill(now, config.perHostPerSecond, config.perHostBurst);
            }
            if (total.tokens < 1 || bucket.tokens < 1) {
                return false;
            }
            total.tokens--;
            bucket.tokens--;
            return true;
        }

        /** Client addresses currently remembered (at most {@code maxHosts}). */
        public synchronized int trackedHosts() {
            return hosts.size();
        }
    }

    private static final class Bucket {

        double tokens;
        long updatedNanos;

        Bucket(double tokens, long now) {
            this.tokens = tokens;
            this.updatedNanos = now;
        }

        void refill(long now, double perSecond, int burst) {
            long elapsed = now - updatedNanos;
            if (elapsed > 0) {
                tokens = Math.min(burst, tokens + elapsed * perSecond / TimeUnit.SECONDS.toNanos(1));
                updatedNanos = now;
            }
        }
    }

    private static void checkRate(String name, double value) {
        if (!(value > 0) || value > 10_000_000) {
            throw new IllegalArgumentException(name + ": " + value + " (expected: more than 0, at most 10000000 per "
                    + "second)");
        }
    }

    private static void checkRange(String name, long value, long min, long max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(name + ": " + value + " (expected: " + min + ".." + max + ")");
        }
    }
}
