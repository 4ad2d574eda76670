package dev.quicfleet.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quicfleet.metrics.UpstreamEjection;
import dev.quicfleet.metrics.UpstreamMetrics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.channel.DefaultEventLoop;
import java.io.IOException;
import java.net.ConnectException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Picking an upstream: round robin and least requests over the healthy ones; ejection after failed connects. */
class LoopPoolTest {

    private final DefaultEventLoop loop = new DefaultEventLoop();

    @AfterEach
    void stop() {
        loop.shutdownGracefully(0, 0, TimeUnit.SECONDS);
    }

    private final UpstreamMetrics metrics = new UpstreamMetrics(new SimpleMeterRegistry(), "test",
            List.of("a", "b", "c"), i -> 1, i -> 0);

    private Upstream[] upstreams(int n, int maxFails, Duration backoff) {
        return upstreams(n, maxFails, 0, backoff);
    }

    private Upstream[] upstreams(int n, int maxFails, int max5xx, Duration backoff) {
        Upstream[] upstreams = new Upstream[n];
        for (int i = 0; i < n; i++) {
            upstreams[i] = new Upstream(i, ProxyConfig.parseUpstream("http://127.0.0.1:" + (9000 + i)), maxFails,
                    max5xx, backoff, () -> metrics);
        }
        return upstreams;
    }

    private LoopPool pool(ProxyConfig.Balance balance, Upstream[] upstreams) {
        ProxyConfig config = ProxyConfig.builder("http://127.0.0.1:1").balance(balance).build();
        return new LoopPool(loop, config, upstreams, new ProxyService(config));
    }

    @Test
    void consecutive5xxEjectWhenConfiguredAndABetterAnswerAfterTheBackOffBringsItBack() throws Exception {
        Upstream[] upstreams = upstreams(2, 3, 2, Duration.ofMillis(50));
        upstreams[0].responded(500);
        upstreams[0].responded(200); // not consecutive
        upstreams[0].responded(503);
        assertThat(upstreams[0].ejected()).isFalse();
        upstreams[0].responded(502);
        assertThat(upstreams[0].ejected()).isTrue();
        assertThat(metrics.ejections(0, UpstreamEjection.RESPONSE_5XX)).isEqualTo(1);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (upstreams[0].ejected()) {
            assertThat(System.nanoTime()).as("the back-off passes").isLessThan(deadline);
            TimeUnit.MILLISECONDS.sleep(10);
        }
        upstreams[0].responded(200);
        upstreams[0].responded(500);
        assertThat(upstreams[0].ejected()).as("back: the count starts again").isFalse();

        Upstream[] off = upstreams(1, 3, 0, Duration.ofMinutes(1));
        for (int i = 0; i < 100; i++) {
            off[0].responded(503);
        }
        assertThat(off[0].ejected()).as("--upstream-max-5xx 0: responses never eject").isFalse();
    }

    @Test
    void aFailedHealthCheckEjectsUntilACheckPasses() {
        Upstream[] upstreams = upstreams(1, 3, Duration.ofMillis(1));
        upstreams[0].checked("GET /healthz answered 503");
        upstreams[0].checked("GET /healthz answered 503");
        assertThat(upstreams[0].ejected()).isTrue();
        assertThat(metrics.ejections(0, UpstreamEjection.HEALTH_CHECK)).as("once per ejection").isEqualTo(1);
        upstreams[0].connected();
        upstreams[0].responded(200);
        assertThat(upstreams[0].ejected()).as("traffic does not override a failed check").isTrue();
        upstreams[0].checked(null);
        assertThat(upstreams[0].ejected()).isFalse();
    }

    @Test
    void roundRobinTakesEachInTurnAndSkipsTheExcludedAndTheEjected() {
        Upstream[] upstreams = upstreams(3, 1, Duration.ofMinutes(1));
        LoopPool pool = pool(ProxyConfig.Balance.ROUND_ROBIN, upstreams);
        List<Integer> picked = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            picked.add(pool.choose(null).index);
        }
        int first = picked.get(0);
        assertThat(picked).containsExactly(first, (first + 1) % 3, (first + 2) % 3, first, (first + 1) % 3,
                (first + 2) % 3);

        upstreams[1].connectFailed(new ConnectException("refused"));
        for (int i = 0; i < 6; i++) {
            assertThat(pool.choose(upstreams[0]).index).isEqualTo(2);
        }
        upstreams[2].connectFailed(new ConnectException("refused"));
        assertThat(pool.choose(upstreams[0])).as("no healthy upstream but the excluded one").isNull();
        assertThat(pool.choose(null).index).isZero();
    }

    @Test
    void leastRequestsPrefersTheLessBusy() {
        Upstream[] upstreams = upstreams(2, 1, Duration.ofMinutes(1));
        LoopPool pool = pool(ProxyConfig.Balance.LEAST_REQUESTS, upstreams);
        pool.started(upstreams[0]);
        pool.started(upstreams[0]);
        for (int i = 0; i < 20; i++) {
            assertThat(pool.choose(null).index).isEqualTo(1);
        }
        pool.finished(upstreams[0]);
        pool.finished(upstreams[0]);
        pool.started(upstreams[1]);
        for (int i = 0; i < 20; i++) {
            assertThat(pool.choose(null).index).isEqualTo(0);
        }
    }

    @Test
    void anUpstreamIsEjectedAfterMaxFailsAndBackAfterTheBackoffAndAConnect() throws Exception {
        Upstream upstream = upstreams(1, 3, Duration.ofMillis(50))[0];
        IOException refused = new ConnectException("refused");
        upstream.connectFailed(refused);
        upstream.connectFailed(refused);
        assertThat(upstream.ejected()).as("after 2 of 3 failures").isFalse();
        upstream.connectFailed(refused);
        assertThat(upstream.ejected()).isTrue();
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (upstream.ejected() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(upstream.ejected()).as("tried again after the back-off").isFalse();
        upstream.connectFailed(refused);
        assertThat(upstream.ejected()).as("a failed retry ejects it again at once").isTrue();
        upstream.connected();
        assertThat(upstream.ejected()).isFalse();
        assertThat(upstream.consecutiveFailures()).isZero();
    }
}
