package dev.quicfleet.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ResetRateLimiterTest {

    private final AtomicLong now = new AtomicLong(1_000_000_000L);

    @Test
    void aHostGetsItsBurstThenItsRate() throws Exception {
        ResetRateLimiter.Limiter limiter = new ResetRateLimiter(5, 10, 1000, 2000, 100, now::get).newLimiter();
        InetAddress client = InetAddress.getByName("192.0.2.1");
        for (int i = 0; i < 10; i++) {
            assertThat(limiter.tryAcquire(client)).as("burst %d", i).isTrue();
        }
        assertThat(limiter.tryAcquire(client)).as("burst spent").isFalse();
        advance(100);
        assertThat(limiter.tryAcquire(client)).as("half a token after 100 ms at 5/s").isFalse();
        advance(100);
        assertThat(limiter.tryAcquire(client)).as("one token after 200 ms").isTrue();
        assertThat(limiter.tryAcquire(client)).isFalse();
        advance(60_000);
        int allowed = 0;
        while (limiter.tryAcquire(client)) {
            allowed++;
        }
        assertThat(allowed).as("refill stops at the burst").isEqualTo(10);
    }

    @Test
    void hostsHaveSeparateBucketsUnderOneTotal() throws Exception {
        ResetRateLimiter.Limiter limiter = new ResetRateLimiter(5, 3, 10, 7, 100, now::get).newLimiter();
        InetAddress a = InetAddress.getByName("192.0.2.1");
        InetAddress b = InetAddress.getByName("192.0.2.2");
        InetAddress c = InetAddress.getByName("2001:db8::3");
        assertThat(count(limiter, a, 10)).isEqualTo(3);
        assertThat(count(limiter, b, 10)).as("a's refusals did not touch b").isEqualTo(3);
        assertThat(count(limiter, c, 10)).as("total burst of 7 left one for c").isEqualTo(1);
        advance(100); // total refills 1 token at 10/s; hosts only half a token
        assertThat(count(limiter, c, 10)).isEqualTo(1);
        assertThat(count(limiter, a, 10)).isZero();
    }

    @Test
    void spoofedSourcesCannotGrowMemory() throws Exception {
        ResetRateLimiter.Limiter limiter = new ResetRateLimiter(5, 1, 1e6, 1_000_000, 1000, now::get).newLimiter();
        byte[] address = {10, 0, 0, 0};
        for (int i = 0; i < 5000; i++) {
            address[2] = (byte) (i >> 8);
            address[3] = (byte) i;
            assertThat(limiter.tryAcquire(InetAddress.getByAddress(address))).isTrue();
        }
        assertThat(limiter.trackedHosts()).isEqualTo(1000);
    }

    @Test
    void validatesItsLimits() {
        assertThatThrownBy(() -> new ResetRateLimiter(0, 10, 1000, 2000, 100, now::get))
                .hasMessage("stateless-reset-rate-per-host: 0.0 (expected: more than 0, at most 10000000 per second)");
        assertThatThrownBy(() -> new ResetRateLimiter(5, 0, 1000, 2000, 100, now::get))
                .hasMessage("stateless-reset-burst-per-host: 0 (expected: 1..1000000)");
        assertThatThrownBy(() -> new ResetRateLimiter(5, 10, 1000, 2000, 0, now::get))
                .hasMessage("stateless-reset-hosts: 0 (expected: 1..10000000)");
        assertThat(ResetRateLimiter.defaults().perHostBurst()).isEqualTo(10);
    }

    private void advance(long millis) {
        now.addAndGet(TimeUnit.MILLISECONDS.toNanos(millis));
    }

    private static int count(ResetRateLimiter.Limiter limiter, InetAddress host, int attempts) {
        int allowed = 0;
        for (int i = 0; i < attempts; i++) {
            if (limiter.tryAcquire(host)) {
                allowed++;
            }
        }
        return allowed;
    }
}
