package dev.quicfleet.worker.protocol.quic;

import dev.quicfleet.http.ConnectionInfo;
import dev.quicfleet.http.Headers;
import dev.quicfleet.metrics.TimeoutReason;
import dev.quicfleet.worker.protocol.Exchange;
import dev.quicfleet.worker.protocol.ExchangeDispatcher;
import dev.quicfleet.worker.protocol.WireNames;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.handler.codec.http3.DefaultHttp3DataFrame;
import io.netty.handler.codec.http3.DefaultHttp3Headers;
import io.netty.handler.codec.http3.DefaultHttp3HeadersFrame;
import io.netty.handler.codec.http3.Http3ErrorCode;
import io.netty.handler.codec.http3.Http3HeadersFrame;
import io.netty.handler.codec.quic.QuicChannel;
import io.netty.handler.codec.quic.QuicStreamChannel;
import java.util.Map;

/** An exchange on one HTTP/3 request stream: HEADERS, DATA, trailing HEADERS, then FIN (RFC 9114 §4.1). */
final class Http3Exchange extends Exchange {

    private final QuicStreamChannel stream;
    private final QuicStreamWrites fin;
    /** The write that carries the response's FIN, or the reset of an aborted response; event loop only. */
    private ChannelFuture ended;

    Http3Exchange(QuicStreamChannel stream, ExchangeDispatcher dispatcher, ConnectionInfo connection, String method,
                  String target, String authority, Headers headers) {
        super(stream, dispatcher, connection, method, target, authority, headers);
        this.stream = stream;
        this.fin = stream.pipeline().get(QuicStreamWrites.class);
    }

    @Override
    public boolean whenHandshakeDone(Runnable task) {
        return EarlyData.afterHandshake((QuicChannel) stream.parent(), task);
    }

    @Override
    protected void decorateHeaders(Headers headers) {
        // No alt-svc: the client already speaks HTTP/3.
    }

    @Override
    protected void doWriteHead(int status, Headers headers, boolean endStream) {
        // Headers validated every name and value as it was added: no second validation
        Http3HeadersFrame frame = new DefaultHttp3HeadersFrame(new DefaultHttp3Headers(false, headers.size() + 1));
        frame.headers().status(Integer.toString(status));
        for (Map.Entry<String, String> field : headers) {
            frame.headers().add(WireNames.of(field.getKey()), field.getValue());
        }
        if (endStream) {
            fin.finishWithNextWrite();
            ended = stream.writeAndFlush(frame);
        } else {
            stream.write(frame);
        }
    }

    @Override
    protected ChannelFuture doWriteData(ByteBuf data, boolean endStream) {
        ChannelFuture future;
        if (endStream) {
            fin.finishWithNextWrite();
            future = ended = stream.writeAndFlush(new DefaultHttp3DataFrame(data));
        } else {
            future = stream.writeAndFlush(new DefaultHttp3DataFrame(data));
        }
        return future;
    }

    @Override
    protected ChannelFuture doWriteEnd(Headers trailers) {
        fin.finishWithNextWrite();
        if (trailers.isEmpty()) {
            // Nothing left to send but the end: an empty DATA frame carries the FIN (see QuicStreamWrites).
            return ended = stream.writeAndFlush(new DefaultHttp3DataFrame(Unpooled.EMPTY_BUFFER));
        }
        Http3HeadersFrame frame = new DefaultHttp3HeadersFrame(new DefaultHttp3Headers(false, trailers.size()));
        for (Map.Entry<String, String> field : trailers) {
            frame.headers().add(WireNames.of(field.getKey()), field.getValue());
        }
        return ended = stream.writeAndFlush(frame);
    }

    @Override
    protected void doAbort() {
        // RESET_STREAM tells the client the response is incomplete; STOP_SENDING stops its upload.
        ended = stream.shutdown(Http3ErrorCode.H3_INTERNAL_ERROR.code());
    }

    /**
     * The response has left once quiche took its last bytes with the FIN (or the reset): from there quiche sends and
     * retransmits it on its own. Not when the stream channel closes: Netty 4.2.18 closes a stream channel only once it
     * has both sent its FIN and <em>read</em> the client's ({@code QuicheQuicStreamChannel.closeIfDone}), which never
     * happens after STOP_SENDING, after a reset, or while a FIN that arrived late waits for a read — such exchanges
     * stayed "in flight" until their connection closed, and a drain under load counted 1,448-2,343 of them with at most
     * 32 requests outstanding. Whichever comes first counts, once.
     */
    @Override
    protected void doTimeout(TimeoutReason reason) {
        // RESET_STREAM and STOP_SENDING with H3_REQUEST_CANCELLED (RFC 9114 §8.1): quiche drops the unsent data.
        stream.shutdown(Http3ErrorCode.H3_REQUEST_CANCELLED.code());
    }

    @Override
    protected void doComplete(Runnable delivered) {
        Runnable once = new Runnable() {
            private boolean done;

            @Override
            public void run() {
                if (!done) {
                    done = true;
                    delivered.run();
                }
            }
        };
        if (ended != null) {
            ended.addListener(f -> once.run());
        }
        stream.closeFuture().addListener(f -> once.run());
        if (!requestBody.ended() && stream.isActive()) {
            // RFC 9114 §4.1: a complete response may be followed by STOP_SENDING(H3_NO_ERROR) for the rest of
            // a request body the handler did not read.
            stream.shutdownInput(Http3ErrorCode.H3_NO_ERROR.code());
        }
    }
}
