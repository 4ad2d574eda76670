package dev.quicfleet.worker.protocol.tcp;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Fires {@link IdleStateEvent#ALL_IDLE_STATE_EVENT} when nothing was read from or written to a connection for the
 * idle timeout, and again every timeout while it stays idle (the protocol handlers decide whether an idle connection
 * closes: one with a request in progress does not).
 *
 * <p>Why not Netty's {@code IdleStateHandler}: it reads the clock on every read and adds a listener to every write's
 * promise (for the time the write completed), about 1.5% of the CPU of a proxied HTTP/2 request. A connection's idle
 * timeout needs neither: reads and writes only mark the connection active, and a check every eighth of the timeout
 * looks at the mark. The event fires between 1 and 1.125 timeouts after the last read or write.
 *
 * <p>Not sharable: one per connection, on its event loop.
 */
final class ConnectionIdleTimer extends ChannelDuplexHandler {

    private static final int CHECKS_PER_TIMEOUT = 8;

    private final long timeoutNanos;
    private final long periodNanos;
    private boolean active;
    private long lastActiveNanos;
    private ScheduledFuture<?> check;

    ConnectionIdleTimer(Duration timeout) {
        this.timeoutNanos = timeout.toNanos();
        this.periodNanos = Math.max(1, timeoutNanos / CHECKS_PER_TIMEOUT);
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        if (ctx.channel().isActive() && ctx.channel().isRegistered()) {
            start(ctx);
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        start(ctx);
        ctx.fireChannelActive();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        stop();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        stop();
        ctx.fireChannelInactive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        active = true;
        ctx.fireChannelRead(msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        active = true;
        ctx.write(msg, promise);
    }

    private void start(ChannelHandlerContext ctx) {
        if (check != null) {
            return;
        }
        lastActiveNanos = ctx.executor().ticker().nanoTime();
        check = ctx.executor().scheduleAtFixedRate(() -> check(ctx), periodNanos, periodNanos, TimeUnit.NANOSECONDS);
    }

    private void stop() {
        if (check != null) {
            check.cancel(false);
        }
    }

    private void check(ChannelHandlerContext ctx) {
        long now = ctx.executor().ticker().nanoTime();
        if (active) {
            active = false;
            lastActiveNanos = now; // the activity was within the last period: counted from its end
            return;
        }
        if (now - lastActiveNanos >= timeoutNanos && ctx.channel().isOpen()) {
            lastActiveNanos = now; // again after another timeout, if still idle
            ctx.fireUserEventTriggered(IdleStateEvent.ALL_IDLE_STATE_EVENT);
        }
    }
}
