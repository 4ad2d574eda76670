package dev.quicfleet.worker.protocol.quic;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.quic.DefaultQuicStreamFrame;

/**
 * Sends a response's FIN in the same STREAM frame as its last bytes. Sits next to the stream channel, below the
 * HTTP/3 frame codec: after {@link #finishWithNextWrite()}, the codec's next output (the encoded last frame) goes
 * out as a {@code QuicStreamFrame} with FIN set.
 *
 * <p>Why not {@code shutdownOutput()} after the last write: that sends FIN alone, one more packet per response, and
 * in Netty 4.2.18 it also overtakes writes still queued for flow control. Worse, quiche considers a stream complete
 * once all its data is acknowledged, so a lost FIN-only packet is never retransmitted and the client waits for the
 * idle timeout. Carried by data, the FIN is retransmitted with it.
 */
final class QuicFinOnLastWrite extends ChannelOutboundHandlerAdapter {

    private boolean finishNext;

    /** The next write below the codec is the last of this stream: set FIN on it. Event loop only. */
    void finishWithNextWrite() {
        finishNext = true;
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (finishNext && msg instanceof ByteBuf bytes) {
            finishNext = false;
            ctx.write(new DefaultQuicStreamFrame(bytes, true), promise);
            return;
        }
        ctx.write(msg, promise);
    }
}
