package dev.quicfleet.worker.protocol.quic;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.quic.QuicStreamFrame;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class QuicStreamWritesTest {

    @Test
    void writesUntilTheFlushGoDownAsOneWriteWithTheFinOnIt() {
        QuicStreamWrites writes = new QuicStreamWrites();
        EmbeddedChannel stream = new EmbeddedChannel(writes);
        ChannelFuture head = stream.write(bytes("HEADERS"));
        writes.finishWithNextWrite();
        ChannelFuture data = stream.write(bytes("DATA"));
        assertThat((Object) stream.readOutbound()).as("nothing before the flush").isNull();
        assertThat(head.isDone()).isFalse();

        stream.flush();
        QuicStreamFrame frame = stream.readOutbound();
        assertThat(frame.hasFin()).isTrue();
        assertThat(frame.content().toString(StandardCharsets.US_ASCII)).isEqualTo("HEADERSDATA");
        assertThat((Object) stream.readOutbound()).as("one write").isNull();
        frame.release();
        assertThat(head.isSuccess()).isTrue();
        assertThat(data.isSuccess()).isTrue();
        assertThat(stream.finishAndReleaseAll()).isFalse();
    }

    @Test
    void composedWritesAreJoinedPartByPartInOrder() {
        EmbeddedChannel stream = new EmbeddedChannel(new QuicStreamWrites());
        // what the HTTP/3 codec writes: a frame header and its payload, composed (read-only), then a composite
        ByteBuf frame = Unpooled.wrappedUnmodifiableBuffer(bytes("[type,len]"), bytes("payload"));
        ByteBuf more = Unpooled.compositeBuffer().addComponents(true, bytes("-x-"), Unpooled.directBuffer()
                .writeBytes("-y".getBytes(StandardCharsets.US_ASCII)));
        more.skipBytes(1); // a reader index inside the first part
        stream.write(bytes("HEADERS|"));
        stream.write(frame);
        stream.writeAndFlush(more);

        ByteBuf joined = stream.readOutbound();
        assertThat(joined.toString(StandardCharsets.US_ASCII)).isEqualTo("HEADERS|[type,len]payloadx--y");
        joined.release();
        assertThat(frame.refCnt()).isZero();
        assertThat(more.refCnt()).isZero();
        assertThat(stream.finishAndReleaseAll()).isFalse();
    }

    @Test
    void aSingleWritePassesThroughUncopiedAndLargeOnesAreComposedNotCopied() {
        EmbeddedChannel stream = new EmbeddedChannel(new QuicStreamWrites());
        ByteBuf one = bytes("one");
        stream.writeAndFlush(one);
        ByteBuf out = stream.readOutbound();
        assertThat(out).isSameAs(one);
        out.release();

        ByteBuf big = Unpooled.directBuffer(64 * 1024).writeZero(64 * 1024);
        stream.write(bytes("HEADERS"));
        stream.writeAndFlush(big);
        ByteBuf joined = stream.readOutbound();
        assertThat(joined.readableBytes()).isEqualTo(7 + 64 * 1024);
        assertThat(joined.nioBufferCount()).as("the 64 KiB are not copied").isEqualTo(2);
        assertThat(ByteBufUtil.getBytes(joined, 0, 7)).isEqualTo("HEADERS".getBytes(StandardCharsets.US_ASCII));
        joined.release();
        assertThat(big.refCnt()).isZero();
        assertThat(stream.finishAndReleaseAll()).isFalse();
    }

    @Test
    void heldWritesAreSentBeforeACloseAndAFailedJoinedWriteFailsEveryPromise() {
        EmbeddedChannel stream = new EmbeddedChannel(new QuicStreamWrites());
        stream.write(bytes("last words"));
        stream.close();
        ByteBuf out = stream.readOutbound();
        assertThat(out.toString(StandardCharsets.US_ASCII)).isEqualTo("last words");
        out.release();

        EmbeddedChannel failing = new EmbeddedChannel(new QuicStreamWrites());
        ChannelFuture first = failing.write(bytes("a"));
        ChannelFuture second = failing.write(bytes("b"));
        failing.pipeline().addFirst(new ChannelOutboundHandlerAdapter() {
            @Override
            public void write(ChannelHandlerContext ctx, Object msg,
                              ChannelPromise promise) {
                ReferenceCountUtil.release(msg);
                promise.setFailure(new IOException("stream reset"));
            }
        });
        failing.flush();
        assertThat(first.cause()).hasMessage("stream reset");
        assertThat(second.cause()).hasMessage("stream reset");
        failing.finishAndReleaseAll();
    }

    private static ByteBuf bytes(String s) {
        return Unpooled.directBuffer().writeBytes(s.getBytes(StandardCharsets.US_ASCII));
    }
}
