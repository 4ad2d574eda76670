package dev.quicfleet.worker.protocol.tcp;

import dev.quicfleet.http.ConnectionInfo;
import dev.quicfleet.http.Headers;
import dev.quicfleet.worker.protocol.ExchangeDispatcher;
import dev.quicfleet.worker.protocol.StreamClosedException;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.util.Map;
import java.util.function.Function;

/** Reads one HTTP/2 stream (auto-read off) and turns it into an {@link Http2Exchange}. */
final class Http2StreamHandler extends ChannelInboundHandlerAdapter {

    /** The pseudo-header of an extended CONNECT (RFC 8441). */
    private static final String PROTOCOL = ":protocol";

    private final ExchangeDispatcher dispatcher;
    private final Function<Http2StreamChannel, ConnectionInfo> connectionInfo;
    private final long bodyMinRate;
    private final boolean connectProtocol;
    private Http2Exchange exchange;
    /** Reset for a {@code :protocol} this server did not allow: what else the stream brings is dropped. */
    private boolean refused;

    /**
     * @param bodyMinRate     the minimum average request body rate in bytes per second (0: none)
     * @param connectProtocol whether this server advertised SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441)
     */
    Http2StreamHandler(ExchangeDispatcher dispatcher, Function<Http2StreamChannel, ConnectionInfo> connectionInfo,
                       long bodyMinRate, boolean connectProtocol) {
        this.connectProtocol = connectProtocol;
        this.dispatcher = dispatcher;
        this.connectionInfo = connectionInfo;
        this.bodyMinRate = bodyMinRate;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        if (ctx.channel().isActive()) {
            ctx.read();
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        ctx.read();
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof Http2HeadersFrame frame) {
            onHeaders(ctx, frame);
        } else if (msg instanceof Http2DataFrame frame) {
            if (exchange == null) {
                frame.release();
                return;
            }
            exchange.offerBody(frame.content());
            if (frame.isEndStream()) {
                exchange.endBody(null);
            }
        } else if (msg instanceof Http2ResetFrame reset) {
            if (exchange != null) {
                exchange.closed(new StreamClosedException("HTTP/2 stream reset by the client: " + reset.errorCode()));
            }
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    private void onHeaders(ChannelHandlerContext ctx, Http2HeadersFrame frame) {
        Http2Headers h = frame.headers();
        if (exchange != null) {
            exchange.endBody(toHeaders(h));
            return;
        }
        if (refused) {
            return;
        }
        Http2StreamChannel stream = (Http2StreamChannel) ctx.channel();
        CharSequence protocol = h.get(PROTOCOL);
        if (protocol != null && !connectProtocol) {
            // Netty checks the form of an extended CONNECT but not that this server allowed it (RFC 8441 §4: a
            // :protocol the server did not enable is a malformed request, a stream error PROTOCOL_ERROR)
            refused = true;
            stream.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.PROTOCOL_ERROR));
            return;
        }
        if (h.method() == null || h.path() == null) {
            // CONNECT without :protocol (RFC 9113 §8.5, a TCP tunnel): not served by this worker
            Http2Headers reply = new DefaultHttp2Headers().status("501");
            stream.writeAndFlush(new DefaultHttp2HeadersFrame(reply, true));
            return;
        }
        exchange = new Http2Exchange(stream, dispatcher, connectionInfo.apply(stream), h.method().toString(),
                h.path().toString(), h.authority() == null ? null : h.authority().toString(), toHeaders(h));
        // RFC 8441 extended CONNECT (allowed: checked above)
        if (protocol != null) {
            exchange.upgradeProtocol(protocol.toString());
        }
        if (frame.isEndStream()) {
            exchange.endBody(null);
        }
        dispatcher.dispatch(exchange);
        if (!frame.isEndStream() && protocol == null) {
            exchange.watchRequestBody(bodyMinRate);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (exchange != null) {
            exchange.readComplete();
        } else {
            ctx.read();
        }
        ctx.fireChannelReadComplete();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (exchange != null) {
            exchange.writabilityChanged();
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (exchange != null) {
            exchange.closed(new StreamClosedException("HTTP/2 stream closed"));
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (exchange != null) {
            exchange.closed(new IOException("HTTP/2 stream failed: " + cause.getMessage(), cause));
        }
        ctx.close();
    }

    static Headers toHeaders(Http2Headers h2) {
        Headers headers = new Headers();
        for (Map.Entry<CharSequence, CharSequence> field : h2) {
            CharSequence name = field.getKey();
            if (name.length() > 0 && name.charAt(0) != ':') {
                headers.add(name.toString(), field.getValue().toString());
            }
        }
        return headers;
    }
}
