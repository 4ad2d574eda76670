package dev.quicfleet.proxy;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.util.ReferenceCountUtil;

/**
 * One HTTP/1.1 connection to an upstream, with auto-read off: it serves one {@link ProxyCall} at a time and passes it
 * what the channel reports. Between calls it waits in its {@link LoopPool}; anything it reads then (the upstream
 * closing, or bytes nobody asked for) ends it.
 *
 * <p>{@link Http2UpstreamStream} is the other kind: one HTTP/2 stream of a multiplexed connection, which speaks the
 * same HTTP/1.1 message objects to the call through Netty's stream-frame codec and is never pooled itself.
 */
class UpstreamConnection extends ChannelInboundHandlerAdapter {

    /** Response heads larger than this are refused (nginx's proxy buffers hold 4-8 KiB; Caddy's 1 MiB). */
    static final int MAX_HEADER_SIZE = 64 * 1024;
    /** The largest piece of response body handed on at once. */
    static final int MAX_CHUNK = 64 * 1024;

    private final LoopPool pool;
    private final Upstream upstream;
    private Channel channel;
    private ProxyCall call;
    /** Responses completed on this connection: a reused connection may have been closed by the upstream meanwhile. */
    private int served;
    private long idleSince;

    UpstreamConnection(LoopPool pool, Upstream upstream) {
        this.pool = pool;
        this.upstream = upstream;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        channel = ctx.channel();
        ctx.pipeline().addBefore(ctx.name(), "http", codec());
    }

    /** The codec between the channel and the call's HTTP/1.1 message objects. */
    ChannelHandler codec() {
        return new HttpClientCodec(new HttpDecoderConfig()
                .setMaxInitialLineLength(8192)
                .setMaxHeaderSize(MAX_HEADER_SIZE)
                .setMaxChunkSize(MAX_CHUNK), false, false);
    }

    /** Whether the call should go back to its pool when complete ({@code false}: the channel is closed). */
    boolean pooled() {
        return true;
    }

    Channel channel() {
        return channel;
    }

    Upstream upstream() {
        return upstream;
    }

    LoopPool pool() {
        return pool;
    }

    boolean reused() {
        return served > 0;
    }

    long idleSince() {
        return idleSince;
    }

    void idleSince(long nanos) {
        idleSince = nanos;
    }

    /** Starts serving {@code next}. */
    void attach(ProxyCall next) {
        call = next;
    }

    /** The call is over; {@code complete} when its response ended cleanly. */
    void detach(boolean complete) {
        call = null;
        if (complete) {
            served++;
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (call != null) {
            call.upstreamRead(msg);
        } else {
            ReferenceCountUtil.release(msg);
            ctx.close(); // an idle connection has nothing to say
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (call != null) {
            call.upstreamReadComplete();
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (call != null && ctx.channel().isWritable()) {
            call.upstreamWritable();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (call != null) {
            call.upstreamClosed(null);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ProxyCall current = call;
        ctx.close();
        if (current != null) {
            current.upstreamClosed(cause);
        }
    }
}
