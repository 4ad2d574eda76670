package dev.quicfleet.proxy;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.handler.codec.http2.HttpConversionUtil.ExtensionHeaderNames;
import io.netty.util.ReferenceCountUtil;

/**
 * One HTTP/2 stream to an upstream, serving one {@link ProxyCall}: Netty's stream-frame codec turns the call's
 * HTTP/1.1 message objects into HEADERS and DATA frames (a {@code LastHttpContent}'s trailers into a trailing HEADERS
 * frame) and the upstream's frames back, so the call does not know which protocol it speaks.
 *
 * <p>Flow control links both sides: the stream channel reads only when the call asks (when the client can take more),
 * and the stream's receive window is returned to the upstream only for frames handed to the call; the call sends body
 * only while the stream channel is writable, which it is not while the upstream's window for it is used up.
 *
 * <p>Never pooled: the stream closes with its exchange, the connection stays with its {@link Http2Upstreams}.
 */
final class Http2UpstreamStream extends UpstreamConnection {

    private final boolean connectionReused;

    /** {@code connectionReused}: its connection had completed streams before (the upstream may have let it go). */
    Http2UpstreamStream(LoopPool pool, Upstream upstream, boolean connectionReused) {
        super(pool, upstream);
        this.connectionReused = connectionReused;
    }

    @Override
    ChannelHandler codec() {
        return new Http2StreamFrameToHttpObjectCodec(false, false);
    }

    @Override
    boolean pooled() {
        return false;
    }

    @Override
    boolean reused() {
        return connectionReused;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof HttpResponse response) {
            if (response.status().code() < 200 && !(msg instanceof LastHttpContent)) {
                // 103 Early Hints and the like: a head of its own, not followed by an end as in HTTP/1.1.
                ReferenceCountUtil.release(msg);
                return;
            }
            response.headers().remove(ExtensionHeaderNames.STREAM_ID.text()); // the codec's, not the upstream's
        }
        super.channelRead(ctx, msg);
    }
}
