package dev.quicfleet.worker.compression;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.embedded.EmbeddedChannel;

/**
 * Compresses one response body, chunk by chunk, with one of Netty's encoders (zstd, brotli, gzip) in an embedded
 * channel, as Netty's {@code HttpContentCompressor} does. Every {@link #encode} flushes the encoder, so what a
 * service writes and flushes (an SSE event) leaves compressed at once instead of waiting for more input. Not
 * thread-safe: the exchange calls it on its event loop.
 */
public final class ResponseEncoder {

    private final ContentCoding coding;
    private final EmbeddedChannel channel;
    private final ByteBufAllocator alloc;
    private long bytesIn;
    private long bytesOut;
    private boolean finished;

    ResponseEncoder(ContentCoding coding, ChannelHandler encoder, ByteBufAllocator alloc) {
        this.coding = coding;
        this.alloc = alloc;
        this.channel = new EmbeddedChannel();
        this.channel.config().setAllocator(alloc);
        this.channel.pipeline().addLast(encoder);
    }

    public ContentCoding coding() {
        return coding;
    }

    /** Uncompressed bytes taken so far. */
    public long bytesIn() {
        return bytesIn;
    }

    /** Compressed bytes produced so far. */
    public long bytesOut() {
        return bytesOut;
    }

    /**
     * Compresses {@code data} (takes ownership); with {@code last} the coding's end follows. Returns what the encoder
     * produced, possibly nothing (an empty buffer).
     */
    public ByteBuf encode(ByteBuf data, boolean last) {
        bytesIn += data.readableBytes();
        if (data.isReadable()) {
            channel.writeOutbound(data);
        } else {
            data.release();
        }
        if (last) {
            finished = true;
            channel.finish();
        }
        return drain();
    }

    /** Ends the coding (before trailers); returns its last bytes. */
    public ByteBuf finish() {
        if (finished) {
            return alloc.buffer(0);
        }
        finished = true;
        channel.finish();
        return drain();
    }

    /** Drops whatever the encoder holds (the response was aborted). */
    public void discard() {
        finished = true;
        if (channel.isOpen()) {
            channel.finishAndReleaseAll();
        } else {
            channel.releaseOutbound();
        }
    }

    private ByteBuf drain() {
        CompositeByteBuf out = null;
        ByteBuf single = null;
        for (ByteBuf part; (part = channel.readOutbound()) != null; ) {
            if (!part.isReadable()) {
                part.release();
                continue;
            }
            if (single == null) {
                single = part;
            } else {
                if (out == null) {
                    out = alloc.compositeBuffer();
                    out.addComponent(true, single);
                }
                out.addComponent(true, part);
            }
        }
        ByteBuf result = out != null ? out : single != null ? single : alloc.buffer(0);
        bytesOut += result.readableBytes();
        return result;
    }
}
