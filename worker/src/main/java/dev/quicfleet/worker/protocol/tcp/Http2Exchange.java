package dev.quicfleet.worker.protocol.tcp;

import dev.quicfleet.http.ConnectionInfo;
import dev.quicfleet.http.Headers;
import dev.quicfleet.metrics.TimeoutReason;
import dev.quicfleet.worker.protocol.Exchange;
import dev.quicfleet.worker.protocol.ExchangeDispatcher;
import dev.quicfleet.worker.protocol.WireNames;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2StreamChannel;
import java.util.Map;

/** An exchange on one HTTP/2 stream (a child channel of {@code Http2MultiplexHandler}). */
final class Http2Exchange extends Exchange {

    private final Http2StreamChannel stream;

    Http2Exchange(Http2StreamChannel stream, ExchangeDispatcher dispatcher, ConnectionInfo connection, String method,
                  String target, String authority, Headers headers) {
        super(stream, dispatcher, connection, method, target, authority, headers);
        this.stream = stream;
    }

    @Override
    protected void doWriteHead(int status, Headers headers, boolean endStream) {
        Http2Headers h2 = new DefaultHttp2Headers(false, headers.size() + 1);
        h2.status(Integer.toString(status));
        for (Map.Entry<String, String> field : headers) {
            h2.add(WireNames.of(field.getKey()), field.getValue());
        }
        if (endStream) {
            stream.writeAndFlush(new DefaultHttp2HeadersFrame(h2, true));
        } else {
            stream.write(new DefaultHttp2HeadersFrame(h2, false));
        }
    }

    @Override
    protected ChannelFuture doWriteData(ByteBuf data, boolean endStream) {
        return stream.writeAndFlush(new DefaultHttp2DataFrame(data, endStream));
    }

    @Override
    protected ChannelFuture doWriteEnd(Headers trailers) {
        if (trailers.isEmpty()) {
            return stream.writeAndFlush(new DefaultHttp2DataFrame(Unpooled.EMPTY_BUFFER, true));
        }
        Http2Headers h2 = new DefaultHttp2Headers(false, trailers.size());
        for (Map.Entry<String, String> field : trailers) {
            h2.add(WireNames.of(field.getKey()), field.getValue());
        }
        return stream.writeAndFlush(new DefaultHttp2HeadersFrame(h2, true));
    }

    @Override
    protected void doAbort() {
        stream.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.INTERNAL_ERROR));
    }

    @Override
    protected void doTimeout(TimeoutReason reason) {
        // CANCEL (RFC 9113 §7): the stream is no longer needed. Netty drops the DATA still queued for it, which frees
        // the connection window this stream held.
        stream.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.CANCEL));
    }

    @Override
    protected void doComplete(Runnable delivered) {
        stream.closeFuture().addListener(f -> delivered.run());
        if (!requestBody.ended() && stream.isActive()) {
            // RFC 9113 §8.1: after a complete response, RST_STREAM(NO_ERROR) stops the rest of the request body.
            stream.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.NO_ERROR));
        }
    }
}
