package dev.quicfleet.worker.protocol.quic;

import dev.quicfleet.http.Headers;
import dev.quicfleet.worker.protocol.ExchangeDispatcher;
import dev.quicfleet.worker.protocol.StreamClosedException;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http3.DefaultHttp3HeadersFrame;
import io.netty.handler.codec.http3.Http3DataFrame;
import io.netty.handler.codec.http3.Http3ErrorCode;
import io.netty.handler.codec.http3.Http3Exception;
import io.netty.handler.codec.http3.Http3Headers;
import io.netty.handler.codec.http3.Http3HeadersFrame;
import io.netty.handler.codec.http3.Http3RequestStreamInboundHandler;
import io.netty.handler.codec.quic.QuicChannel;
import io.netty.handler.codec.quic.QuicException;
import io.netty.handler.codec.quic.QuicStreamChannel;
import java.io.IOException;
import java.util.Map;

/**
 * Reads one HTTP/3 request stream (with auto-read off, so the request body is pulled only as fast as the handler
 * consumes it) and turns it into an {@link Http3Exchange}.
 */
final class Http3RequestStreamHandler extends Http3RequestStreamInboundHandler {

    /** The pseudo-header of an extended CONNECT (RFC 9220). */
    private static final String PROTOCOL = ":protocol";

    private final ExchangeDispatcher dispatcher;
    private final EarlyData earlyData;
    private final long bodyMinRate;
    private final boolean connectProtocol;
    private Http3Exchange exchange;
    /** Answered without an exchange (425, 501): what else the stream brings is read and dropped. */
    private boolean answered;

    /**
     * @param bodyMinRate     the minimum average request body rate in bytes per second (0: none)
     * @param connectProtocol whether this server advertised SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 9220)
     */
    Http3RequestStreamHandler(ExchangeDispatcher dispatcher, EarlyData earlyData, long bodyMinRate,
                              boolean connectProtocol) {
        this.connectProtocol = connectProtocol;
        this.dispatcher = dispatcher;
        this.earlyData = earlyData;
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
    protected void channelRead(ChannelHandlerContext ctx, Http3HeadersFrame frame) {
        if (exchange != null) {
            exchange.endBody(toHeaders(frame.headers()));
            return;
        }
        if (answered) {
            return;
        }
        Http3Headers h = frame.headers();
        QuicStreamChannel stream = (QuicStreamChannel) ctx.channel();
        if (h.method() == null || h.path() == null) {
            // CONNECT (no :path) and friends: not served by this worker.
            Http3HeadersFrame reply = new DefaultHttp3HeadersFrame();
            reply.headers().status("501");
            answered = true;
            stream.writeAndFlush(reply).addListener(QuicStreamChannel.SHUTDOWN_OUTPUT);
            return;
        }
        CharSequence protocol = h.get(PROTOCOL);
        if (protocol != null && !connectProtocol) {
            // Netty validates the form of an extended CONNECT but not that this server allowed it (RFC 9220 §3:
            // without the setting, :protocol makes the request malformed)
            answered = true;
            stream.shutdown(Http3ErrorCode.H3_MESSAGE_ERROR.code());
            return;
        }
        QuicChannel connection = stream.parent();
        String method = h.method().toString();
        CharSequence length = h.get("content-length");
        EarlyData.Admission admission = earlyData.admit(connection, method,
                length != null && !"0".contentEquals(length));
        if (admission == EarlyData.Admission.REPLAYED) {
            ctx.close(); // its connection is being closed: a replayed first flight never runs a request
            return;
        }
        if (admission == EarlyData.Admission.TOO_EARLY) {
            // RFC 8470 §5.2: the client retries after the handshake; the request body is read and dropped
            Http3HeadersFrame reply = new DefaultHttp3HeadersFrame();
            reply.headers().status("425");
            reply.headers().set("content-length", "0");
            answered = true;
            stream.writeAndFlush(reply).addListener(QuicStreamChannel.SHUTDOWN_OUTPUT);
            return;
        }
        exchange = new Http3Exchange(stream, dispatcher,
                QuicConnections.info(connection, admission == EarlyData.Admission.ACCEPTED),
                h.method().toString(), h.path().toString(), h.authority() == null ? null : h.authority().toString(),
                toHeaders(h));
        if (protocol != null) {
            exchange.upgradeProtocol(protocol.toString());
        }
        QuicConnections.streamAccepted(connection, stream.streamId());
        // HTTP/3 ends a body with the stream's FIN, unknown here: watch requests that declare a body, or may send one
        // without a length (not GET, HEAD, OPTIONS): a scheduled check per bodiless GET would cost every request.
        // An extended CONNECT's body is the new protocol's bytes: no minimum rate.
        boolean mayHaveBody = protocol == null && (length != null ? !"0".contentEquals(length)
                : !(method.equals("GET") || method.equals("HEAD") || method.equals("OPTIONS")));
        Http3Exchange started = exchange;
        Runnable start = () -> {
            dispatcher.dispatch(started);
            if (mayHaveBody) {
                started.watchRequestBody(bodyMinRate);
            }
        };
        if (admission == EarlyData.Admission.NOT_EARLY || admission == EarlyData.Admission.ACCEPTED) {
            start.run();
        } else {
            // early data that may not run yet: starts once the handshake completes, which a replayed first flight
            // never does
            earlyData.whenConfirmed(connection, start);
        }
    }

    @Override
    protected void channelRead(ChannelHandlerContext ctx, Http3DataFrame frame) {
        if (exchange == null) {
            frame.release();
            return;
        }
        exchange.offerBody(frame.content());
    }

    @Override
    protected void channelInputClosed(ChannelHandlerContext ctx) {
        if (exchange != null) {
            exchange.endBody(null);
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
            exchange.closed(new StreamClosedException("HTTP/3 stream closed"));
        }
        ctx.fireChannelInactive();
    }

    @Override
    protected void handleQuicException(ChannelHandlerContext ctx, QuicException exception) {
        failed(ctx, exception);
    }

    @Override
    protected void handleHttp3Exception(ChannelHandlerContext ctx, Http3Exception exception) {
        failed(ctx, exception);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof QuicException || cause instanceof Http3Exception) {
            super.exceptionCaught(ctx, cause);
        } else {
            failed(ctx, cause);
        }
    }

    private void failed(ChannelHandlerContext ctx, Throwable cause) {
        if (exchange != null) {
            exchange.closed(new IOException("HTTP/3 stream failed: " + cause.getMessage(), cause));
        }
        ctx.close();
    }

    static Headers toHeaders(Http3Headers http3Headers) {
        Headers headers = new Headers();
        for (Map.Entry<CharSequence, CharSequence> field : http3Headers) {
            CharSequence name = field.getKey();
            if (name.length() > 0 && name.charAt(0) != ':') {
                headers.add(name.toString(), field.getValue().toString());
            }
        }
        return headers;
    }
}
