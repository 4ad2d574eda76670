package dev.quicfleet.worker.protocol.quic;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.quic.DefaultQuicStreamFrame;
import io.netty.handler.codec.quic.QuicStreamFrame;
import io.netty.util.ReferenceCountUtil;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Hands a response stream's bytes to QUIC once per flush, in one write, with the FIN on the last bytes. Sits next to
 * the stream channel, below the HTTP/3 frame codec, so it sees the codec's encoded frames.
 *
 * <p>One write per flush: Netty 4.2.18's QUIC stream channel passes every {@code write} to quiche at once (its
 * {@code flush} does nothing) and, outside the connection's read cycle, has quiche build and send packets after
 * each one. A response written from another channel's read — a proxied response, arriving from the upstream — left
 * as one packet for its HEADERS frame and one for its DATA: measured 2 packets per 1 KiB response plus the ACK.
 * Held until the flush and written as one buffer, HEADERS, DATA and FIN share a packet. Inside the read cycle
 * (static files, the demo) Netty defers the packets itself; there this only saves a quiche call per frame.
 *
 * <p>The FIN: after {@link #finishWithNextWrite()}, the codec's next output (the encoded last frame) carries FIN.
 * Why not {@code shutdownOutput()} after the last write: that sends FIN alone, one more packet per response, and
 * in Netty 4.2.18 it also overtakes writes still queued for flow control. Worse, quiche considers a stream complete
 * once all its data is acknowledged, so a lost FIN-only packet is never retransmitted and the client waits for the
 * idle timeout. Carried by data, the FIN is retransmitted with it.
 */
final class QuicStreamWrites extends ChannelOutboundHandlerAdapter {

    /** Held writes up to this many bytes are copied into one buffer; larger ones are composed (no copy). */
    private static final int COPY_LIMIT = 16 * 1024;

    private boolean finishNext;
    // what was written since the last flush: the first write's bytes and promise, then the others' if any
    private ByteBuf held;
    private ChannelPromise heldPromise;
    private List<ByteBuf> moreBytes;
    private List<ChannelPromise> morePromises;
    private boolean heldFin;

    /** The next write below the codec is the last of this stream: set FIN on it. Event loop only. */
    void finishWithNextWrite() {
        finishNext = true;
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        ByteBuf bytes;
        boolean fin;
        if (msg instanceof ByteBuf buf) {
            bytes = buf;
            fin = finishNext;
        } else if (msg instanceof QuicStreamFrame frame) {
            bytes = frame.content();
            fin = frame.hasFin() || finishNext;
        } else {
            writeHeld(ctx);
            ctx.write(msg, promise);
            return;
        }
        finishNext = false;
        if (heldFin) {
            // Nothing may follow the FIN: let the stream fail this write as it would.
            writeHeld(ctx);
            ctx.write(msg, promise);
            return;
        }
        if (held == null) {
            held = bytes;
            heldPromise = promise;
        } else {
            if (moreBytes == null) {
                moreBytes = new ArrayList<>(2);
                morePromises = new ArrayList<>(2);
            }
            moreBytes.add(bytes);
            morePromises.add(promise);
        }
        heldFin = fin;
    }

    @Override
    public void flush(ChannelHandlerContext ctx) {
        writeHeld(ctx);
        ctx.flush();
    }

    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
        // Written before the close: sent, as the stream channel would have sent them.
        if (held != null) {
            writeHeld(ctx);
            ctx.flush();
        }
        ctx.close(promise);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        writeHeld(ctx);
    }

    /** Passes what was written since the last flush down as one write. */
    private void writeHeld(ChannelHandlerContext ctx) {
        ByteBuf bytes = held;
        if (bytes == null) {
            return;
        }
        ChannelPromise promise = heldPromise;
        boolean fin = heldFin;
        held = null;
        heldPromise = null;
        heldFin = false;
        if (moreBytes != null && !moreBytes.isEmpty()) {
            bytes = join(ctx, bytes);
            promise = joinPromises(ctx, promise);
            moreBytes.clear();
            morePromises.clear();
        }
        ctx.write(fin ? new DefaultQuicStreamFrame(bytes, true) : bytes, promise);
    }

    private ByteBuf join(ChannelHandlerContext ctx, ByteBuf first) {
        int total = first.readableBytes();
        for (ByteBuf b : moreBytes) {
            total += b.readableBytes();
        }
        if (total <= COPY_LIMIT) {
            ByteBuf joined = ctx.alloc().directBuffer(total);
            try {
                copy(first, joined);
                for (ByteBuf b : moreBytes) {
                    copy(b, joined);
                }
            } finally {
                first.release();
                for (ByteBuf b : moreBytes) {
                    ReferenceCountUtil.release(b);
                }
            }
            return joined;
        }
        CompositeByteBuf joined = ctx.alloc().compositeDirectBuffer(moreBytes.size() + 1);
        joined.addComponent(true, first);
        for (ByteBuf b : moreBytes) {
            joined.addComponent(true, b);
        }
        return joined;
    }

    /**
     * Appends {@code from}'s readable bytes to {@code to}, part by part when {@code from} is composed (an HTTP/3
     * frame: its header and its payload): {@code writeBytes(ByteBuf)} asks a composed buffer for one {@code nioBuffer()},
     * and Netty's composites build that by copying every part into a new heap array first (measured: 330 bytes of
     * garbage per static 1 KiB GET, the largest single allocation of that request).
     */
    private static void copy(ByteBuf from, ByteBuf to) {
        if (from.nioBufferCount() == 1) {
            to.writeBytes(from, from.readerIndex(), from.readableBytes());
            return;
        }
        for (ByteBuffer part : from.nioBuffers()) {
            to.writeBytes(part);
        }
    }

    /** One promise for the joined write that completes every held write's promise. */
    private ChannelPromise joinPromises(ChannelHandlerContext ctx, ChannelPromise first) {
        List<ChannelPromise> all = new ArrayList<>(morePromises.size() + 1);
        if (!first.isVoid()) {
            all.add(first);
        }
        for (ChannelPromise p : morePromises) {
            if (!p.isVoid()) {
                all.add(p);
            }
        }
        if (all.isEmpty()) {
            return ctx.voidPromise();
        }
        if (all.size() == 1) {
            return all.get(0);
        }
        ChannelPromise joined = ctx.newPromise();
        joined.addListener((ChannelFutureListener) (ChannelFuture f) -> {
            for (ChannelPromise p : all) {
                if (f.isSuccess()) {
                    p.trySuccess();
                } else {
                    p.tryFailure(f.cause());
                }
            }
        });
        return joined;
    }
}
