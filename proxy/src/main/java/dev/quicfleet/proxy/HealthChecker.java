package dev.quicfleet.proxy;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Active health checks ({@code --upstream-health-path}): every interval, from one event loop of the worker, a
 * {@code GET} of the path on a fresh connection to each upstream ({@code Connection: close}, so a check never
 * takes a pooled connection or leaves one behind). A 2xx or 3xx status passes; anything else, a connect failure, or
 * no status line within the interval fails, and {@link Upstream#checked} ejects the upstream until a check passes.
 * Only the status line is read: the body is never waited for.
 */
final class HealthChecker {

    private final EventLoop loop;
    private final Upstream[] upstreams;
    private final String path;
    private final long intervalNanos;
    private final Bootstrap bootstrap;
    /** Whether a check of upstream i is still running (touched only on {@link #loop}). */
    private final boolean[] running;
    private ScheduledFuture<?> schedule;

    HealthChecker(EventLoop loop, ProxyConfig config, Upstream[] upstreams) {
        this.loop = loop;
        this.upstreams = upstreams;
        this.path = config.healthPath();
        this.intervalNanos = config.healthInterval().toNanos();
        this.running = new boolean[upstreams.length];
        long connectMillis = Math.min(config.connectTimeout().toMillis(), config.healthInterval().toMillis());
        this.bootstrap = new Bootstrap()
                .group(loop)
                .channelFactory(LoopPool.socketChannels(loop))
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.max(1, connectMillis))
                .option(ChannelOption.TCP_NODELAY, true);
    }

    /** Starts checking now and every interval after. */
    void start() {
        schedule = loop.scheduleWithFixedDelay(this::round, 0, intervalNanos, TimeUnit.NANOSECONDS);
    }

    EventLoop loop() {
        return loop;
    }

    void stop() {
        if (schedule != null) {
            schedule.cancel(false);
        }
    }

    private void round() {
        for (Upstream upstream : upstreams) {
            if (!running[upstream.index]) {
                check(upstream);
            }
        }
    }

    private void check(Upstream upstream) {
        running[upstream.index] = true;
        Check check = new Check(upstream);
        bootstrap.clone().handler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.pipeline().addLast(new HttpClientCodec(), check);
            }
        }).connect(upstream.address).addListener(f -> {
            if (!f.isSuccess()) {
                check.done("connect failed: " + f.cause().getMessage());
            }
        });
    }

    /** One check of one upstream; ends exactly once. */
    private final class Check extends SimpleChannelInboundHandler<HttpObject> {
        private final Upstream upstream;
        private final ScheduledFuture<?> timeout;
        private Channel channel;
        private boolean done;

        Check(Upstream upstream) {
            this.upstream = upstream;
            this.timeout = loop.schedule(() -> done("no response within "
                    + ProxyConfig.format(Duration.ofNanos(intervalNanos))), intervalNanos, TimeUnit.NANOSECONDS);
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            channel = ctx.channel();
            DefaultFullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path);
            request.headers().set("host", upstream.hostPort).set("connection", "close")
                    .set("user-agent", "quicfleet-health-check");
            ctx.writeAndFlush(request);
            if (done) {
                ctx.close();
            }
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
            if (msg instanceof HttpResponse response) {
                int status = response.status().code();
                if (status >= 100 && status < 200) {
                    return; // an interim response: the final one follows
                }
                done(status < 400 ? null : "GET " + path + " answered " + status);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            done("the connection closed before a response");
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            done("failed: " + cause.getMessage());
        }

        void done(String problem) {
            if (done) {
                return;
            }
            done = true;
            timeout.cancel(false);
            running[upstream.index] = false;
            if (channel != null) {
                channel.close();
            }
            upstream.checked(problem);
        }
    }
}
