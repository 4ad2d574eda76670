package dev.quicfleet.proxy;

import static org.assertj.core.api.Assertions.assertThat;

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

    private static Upstream[] upstreams(int n, int maxFails, Duration backoff) {
        Upstream[] upstreams = new Upstream[n];
        for (int i = 0; i < n; i++) {
            upstreams[i] = new Upstream(i, ProxyConfig.parseUpstream("http://127.0.0.1:" + (9000 + i)), maxFails,
                    backoff);
        }
        return upstreams;
    }

    private LoopPool pool(ProxyConfig.Balance balance, Upstream[] upstreams) {
        ProxyConfig config = ProxyConfig.builder("http://127.0.0.1:1").balance(balance).build();
        return new LoopPool(loop, config, upstreams);
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
