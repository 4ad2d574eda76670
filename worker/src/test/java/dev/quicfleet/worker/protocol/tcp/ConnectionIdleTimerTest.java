package dev.quicfleet.worker.protocol.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.timeout.IdleStateEvent;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ConnectionIdleTimerTest {

    private final List<Object> events = new ArrayList<>();

    private EmbeddedChannel channel() {
        EmbeddedChannel channel = new EmbeddedChannel();
        channel.freezeTime();
        channel.pipeline().addLast(new ConnectionIdleTimer(Duration.ofSeconds(8)), new ChannelInboundHandlerAdapter() {
            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                events.add(evt);
            }

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                // consumed
            }
        });
        return channel;
    }

    private static void advance(EmbeddedChannel channel, long millis) {
        for (long done = 0; done < millis; done += 100) {
            channel.advanceTimeBy(100, TimeUnit.MILLISECONDS);
            channel.runScheduledPendingTasks();
        }
    }

    @Test
    void anIdleConnectionGetsTheEventAfterTheTimeoutAndAgainAfterEachFurtherTimeout() {
        EmbeddedChannel channel = channel();

        advance(channel, 7_900);
        assertThat(events).as("before the timeout").isEmpty();
        advance(channel, 1_100); // 9 s: between 1 and 1.125 timeouts
        assertThat(events).containsExactly(IdleStateEvent.ALL_IDLE_STATE_EVENT);
        advance(channel, 9_000);
        assertThat(events).as("still idle: again").hasSize(2);
        channel.finishAndReleaseAll();
    }

    @Test
    void readsAndWritesKeepItActive() {
        EmbeddedChannel channel = channel();

        for (int i = 0; i < 6; i++) {
            advance(channel, 3_000);
            if (i % 2 == 0) {
                channel.writeInbound("request bytes");
            } else {
                channel.writeOutbound("response bytes");
            }
        }
        assertThat(events).as("18 s with a read or write every 3 s").isEmpty();
        advance(channel, 9_100);
        assertThat(events).as("idle for a timeout since the last write").hasSize(1);
        channel.finishAndReleaseAll();
    }

    @Test
    void aClosedConnectionStopsTheChecks() {
        EmbeddedChannel channel = channel();
        channel.close();

        advance(channel, 20_000);
        assertThat(events).isEmpty();
        assertThat(channel.hasPendingTasks()).isFalse();
    }
}
