package dev.quicfleet.worker.protocol.tcp;

import dev.quicfleet.http.ConnectionInfo;
import dev.quicfleet.http.Headers;
import dev.quicfleet.metrics.HttpProtocol;
import dev.quicfleet.metrics.TimeoutReason;
import dev.quicfleet.worker.protocol.Exchange;
import dev.quicfleet.worker.protocol.ExchangeDispatcher;
import dev.quicfleet.worker.protocol.StreamClosedException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerExpectContinueHandler;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves HTTP/1.1 on one TLS connection, one exchange at a time. Auto-read is off: the connection reads only while
 * the current request body wants bytes, or when it is ready for the next request. Pipelined requests that the codec
 * decoded early wait in a queue until the current exchange completes.
 *
 * <p>The request head must arrive within the header timeout (slowloris): counted from the end of the TLS handshake for
 * the first request, and from the first byte of each later one (the wait before it is the idle timeout's). The
 * {@link #headClock()} handler, placed before the codec, sees those bytes. A request without {@code Host} or with two
 * gets 400 (RFC 9112 §3.2).
 */
final class Http1Connection extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(Http1Connection.class);

    private final ExchangeDispatcher dispatcher;
    private final Function<Channel, ConnectionInfo> connectionInfo;
    private final Duration headerTimeout;
    private final long bodyMinRate;
    private final boolean webSocket;
    private final ArrayDeque<HttpObject> pending = new ArrayDeque<>();
    private Http1Exchange current;
    /** The current request's body still arrives (no LastHttpContent yet). */
    private boolean receivingBody;
    /** The next bytes belong to a request head (after the previous request's last content). */
    private boolean awaitingHead = true;
    /** The end of the current request (one asking for a protocol switch) is held back; see {@link #process}. */
    private boolean upgradeEndHeld;
    private ScheduledFuture<?> headTimer;
    private ChannelHandlerContext ctx;
    private final ChannelInboundHandlerAdapter headClock = newHeadClock();

    /**
     * @param headerTimeout how long a request head may take to arrive
     * @param bodyMinRate   the minimum average request body rate in bytes per second (0: none)
     * @param webSocket     whether {@code Upgrade: websocket} asks for a protocol switch (off: a plain request)
     */
    Http1Connection(ExchangeDispatcher dispatcher, Function<Channel, ConnectionInfo> connectionInfo,
                    Duration headerTimeout, long bodyMinRate, boolean webSocket) {
        this.webSocket = webSocket;
        this.dispatcher = dispatcher;
        this.connectionInfo = connectionInfo;
        this.headerTimeout = headerTimeout;
        this.bodyMinRate = bodyMinRate;
    }

    /** The handler to place before the HTTP codec: it starts the header clock when a request's first bytes arrive. */
    ChannelInboundHandlerAdapter headClock() {
        return headClock;
    }

    private ChannelInboundHandlerAdapter newHeadClock() {
        return new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                if (awaitingHead && headTimer == null && msg instanceof ByteBuf bytes && bytes.isReadable()) {
                    startHeadTimer(ctx.channel());
                }
                ctx.fireChannelRead(msg);
            }
        };
    }

    private void startHeadTimer(Channel channel) {
        headTimer = channel.eventLoop().schedule(this::headTimedOut, headerTimeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void stopHeadTimer() {
        if (headTimer != null) {
            headTimer.cancel(false);
            headTimer = null;
        }
    }

    private void headTimedOut() {
        headTimer = null;
        Channel channel = ctx.channel();
        if (!awaitingHead || !channel.isActive()) {
            return;
        }
        if (current != null) {
            // Busy with a response, so not reading: the rest of the head may well be waiting in the socket.
            return;
        }
        dispatcher.metrics().timeout(HttpProtocol.HTTP_1_1, TimeoutReason.HEADER);
        log.debug("dropping HTTP/1.1 client {}: no complete request head within {}", channel.remoteAddress(),
                headerTimeout);
        pending.forEach(ReferenceCountUtil::release);
        pending.clear();
        TcpConnections.reset(channel);
    }

    /** Whether no exchange is in progress (drain closes idle connections at once). */
    boolean idle() {
        return current == null && pending.isEmpty();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        ctx.channel().config().setAutoRead(false);
        // Added once the TLS handshake is done: the first request is due now.
        startHeadTimer(ctx.channel());
        ctx.read();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ByteBuf bytes && current != null && current.tunnel()) {
            // an upgraded connection (WebSocket): the HTTP codec is gone, the bytes are the exchange's body
            current.offerBody(bytes);
            return;
        }
        if (!(msg instanceof HttpObject object)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof HttpRequest) {
            awaitingHead = false;
            stopHeadTimer();
        }
        if (msg instanceof LastHttpContent) {
            awaitingHead = true;
        }
        if (current != null && !receivingBody || !pending.isEmpty()) {
            pending.add(object);
            return;
        }
        process(object);
    }

    private void process(HttpObject object) {
        if (object instanceof HttpRequest request) {
            if (request.decoderResult().isFailure()) {
                ReferenceCountUtil.release(object);
                badRequest(request.decoderResult().cause());
                return;
            }
            start(request);
        }
        if (object instanceof HttpContent content) {
            if (content.decoderResult().isFailure()) {
                content.release();
                badRequest(content.decoderResult().cause());
                return;
            }
            if (current == null || !receivingBody || current.tunnel()) {
                // (the end of an upgrade request: its body is now the new protocol's bytes)
                content.release();
                return;
            }
            if (content instanceof LastHttpContent && "websocket".equals(current.upgradeProtocol())) {
                // The end of a WebSocket handshake: held while the service may still accept it (a proxy does once
                // its upstream agreed); a response without the switch delivers it. Other Upgrade tokens (h2c) are
                // not served here: their requests end as usual.
                if (content.content().isReadable()) {
                    current.offerBody(content.content());
                } else {
                    content.release();
                }
                upgradeEndHeld = true;
                return;
            }
            current.offerBody(content.content());
            if (content instanceof LastHttpContent last) {
                receivingBody = false;
                Headers trailers = new Headers();
                for (Map.Entry<String, String> field : last.trailingHeaders()) {
                    trailers.add(field.getKey(), field.getValue());
                }
                current.endBody(trailers);
            }
        }
    }

    private void start(HttpRequest request) {
        if (request.protocolVersion().majorVersion() != 1) {
            badRequest(new IllegalArgumentException("unsupported HTTP version " + request.protocolVersion()));
            return;
        }
        List<String> host = request.headers().getAll(HttpHeaderNames.HOST);
        if (host.size() > 1 || host.isEmpty() && request.protocolVersion().minorVersion() >= 1) {
            // RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without Host, and to any with two.
            badRequest(new IllegalArgumentException(host.isEmpty() ? "no Host header (RFC 9112 section 3.2)"
                    : host.size() + " Host headers (RFC 9112 section 3.2: exactly one)"));
            return;
        }
        Headers headers = new Headers();
        for (Map.Entry<String, String> field : request.headers()) {
            headers.add(field.getKey(), field.getValue());
        }
        String target = request.uri();
        if (!target.startsWith("/")) {
            // absolute-form (RFC 9112 §3.2.2) or asterisk-form: serve the path of an absolute URI, refuse the rest
            int scheme = target.indexOf("://");
            int slash = scheme < 0 ? -1 : target.indexOf('/', scheme + 3);
            if (scheme < 0) {
                badRequest(new IllegalArgumentException("request target " + target + " is not a path"));
                return;
            }
            target = slash < 0 ? "/" : target.substring(slash);
        }
        boolean keepAlive = HttpUtil.isKeepAlive(request);
        current = new Http1Exchange(ctx.channel(), dispatcher, connectionInfo.apply(ctx.channel()),
                request.method().name(), target, request.headers().get(HttpHeaderNames.HOST), headers, keepAlive);
        receivingBody = true;
        upgradeEndHeld = false;
        String upgrade = request.headers().get(HttpHeaderNames.UPGRADE);
        if (upgrade != null && request.method() == HttpMethod.GET
                && request.headers().containsValue(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE, true)) {
            String protocol = upgrade.split(",", 2)[0].trim(); // the first protocol the client offers
            if (webSocket || !"websocket".equalsIgnoreCase(protocol)) {
                current.upgradeProtocol(protocol);
            }
            // else (--websocket off): served as a plain request, as by a route that is not a WebSocket service
        }
        dispatcher.dispatch(current);
        if (HttpUtil.isTransferEncodingChunked(request) || current.contentLength() > 0) {
            current.watchRequestBody(bodyMinRate);
        }
    }

    /** Called on the event loop when the current exchange's response is fully written. */
    private void exchangeDone(Http1Exchange exchange, boolean close) {
        if (exchange != current) {
            return;
        }
        current = null;
        if (close || receivingBody) {
            // Close after what was written is flushed. When the handler left part of the body unread, skipping an
            // unbounded body is not worth it either.
            ctx.channel().writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
            return;
        }
        while (!pending.isEmpty() && (current == null || receivingBody)) {
            process(pending.poll());
        }
        if (current == null || receivingBody) {
            ctx.read();
        }
    }

    private void badRequest(Throwable cause) {
        HttpResponseStatus status = cause instanceof TooLongHttpLineException ? HttpResponseStatus.REQUEST_URI_TOO_LONG
                : cause instanceof TooLongHttpHeaderException ? HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
                : cause instanceof TooLongFrameException ? HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE
                : HttpResponseStatus.BAD_REQUEST;
        byte[] text = ("bad request: " + cause.getMessage() + "\n").getBytes(StandardCharsets.UTF_8);
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                Unpooled.wrappedBuffer(text));
        response.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
        response.headers().set(HttpHeaderNames.CONTENT_LENGTH, text.length);
        response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        pending.clear();
        receivingBody = false;
        ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (current != null && receivingBody) {
            current.readComplete();
        } else if (current == null) {
            ctx.read();
        }
        ctx.fireChannelReadComplete();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (current != null) {
            current.writabilityChanged();
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof IdleStateEvent && idle()) {
            ctx.close();
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        stopHeadTimer();
        if (current != null) {
            current.closed(new StreamClosedException("HTTP/1.1 connection closed"));
        }
        pending.forEach(ReferenceCountUtil::release);
        pending.clear();
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (current != null) {
            current.closed(new IOException("HTTP/1.1 connection failed: " + cause.getMessage(), cause));
        }
        // TcpConnections' last handler counts it and closes the connection.
        ctx.fireExceptionCaught(cause);
    }

    /** One HTTP/1.1 request/response on the connection. */
    private final class Http1Exchange extends Exchange {

        private final boolean keepAlive;
        private boolean closeAfter;

        Http1Exchange(Channel channel, ExchangeDispatcher dispatcher, ConnectionInfo info, String method,
                      String target, String authority, Headers headers, boolean keepAlive) {
            super(channel, dispatcher, info, method, target, authority, headers);
            this.keepAlive = keepAlive;
        }

        boolean tunnel() {
            return upgraded();
        }

        @Override
        protected int upgradeStatus() {
            return 101;
        }

        @Override
        protected void doWriteHead(int status, Headers headers, boolean endStream) {
            if (status == 101) {
                upgradeEndHeld = false;
                switchProtocols(headers);
                return;
            }
            if (upgradeEndHeld) {
                upgradeEndHeld = false;
                receivingBody = false;
                endBody(new Headers());
            }
            HttpResponse response = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(status));
            for (Map.Entry<String, String> field : headers) {
                response.headers().add(field.getKey(), field.getValue());
            }
            if (!headers.contains("content-length") && !noBodyStatus(status)) {
                HttpUtil.setTransferEncodingChunked(response, true);
            }
            closeAfter = !keepAlive || dispatcher.draining();
            if (closeAfter) {
                response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            }
            channel.write(response);
            if (endStream) {
                channel.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
            }
        }

        /**
         * Sends {@code 101 Switching Protocols}, then takes the HTTP codec out of the pipeline: from here on the
         * connection carries the new protocol's bytes, and closes when the exchange ends.
         */
        private void switchProtocols(Headers headers) {
            HttpResponse response = new DefaultHttpResponse(HttpVersion.HTTP_1_1,
                    HttpResponseStatus.SWITCHING_PROTOCOLS);
            for (Map.Entry<String, String> field : headers) {
                response.headers().add(field.getKey(), field.getValue());
            }
            closeAfter = true;
            channel.writeAndFlush(response);
            ChannelPipeline pipeline = channel.pipeline();
            pipeline.remove(HttpServerCodec.class);
            if (pipeline.get(HttpServerExpectContinueHandler.class) != null) {
                pipeline.remove(HttpServerExpectContinueHandler.class);
            }
            if (pipeline.context(headClock) != null) {
                pipeline.remove(headClock);
            }
            awaitingHead = false;
            stopHeadTimer();
        }

        @Override
        protected ChannelFuture doWriteData(ByteBuf data, boolean endStream) {
            if (tunnel()) {
                return channel.writeAndFlush(data);
            }
            return channel.writeAndFlush(endStream ? new DefaultLastHttpContent(data) : new DefaultHttpContent(data));
        }

        @Override
        protected ChannelFuture doWriteEnd(Headers trailers) {
            if (tunnel()) {
                return channel.writeAndFlush(Unpooled.EMPTY_BUFFER);
            }
            LastHttpContent last = new DefaultLastHttpContent(Unpooled.EMPTY_BUFFER);
            if (acceptsTrailers()) { // RFC 9110 §10.1.4: only to a client that said "TE: trailers"; else dropped
                for (Map.Entry<String, String> field : trailers) {
                    last.trailingHeaders().add(field.getKey(), field.getValue());
                }
            }
            return channel.writeAndFlush(last);
        }

        private boolean acceptsTrailers() {
            for (String te : headers().getAll("te")) {
                for (String token : te.split(",")) {
                    int semi = token.indexOf(';');
                    if ((semi < 0 ? token : token.substring(0, semi)).trim().equalsIgnoreCase("trailers")) {
                        return true;
                    }
                }
            }
            return false;
        }

        @Override
        protected void doAbort() {
            closeAfter = true;
            channel.close();
        }

        @Override
        protected void doTimeout(TimeoutReason reason) {
            closeAfter = true;
            TcpConnections.reset(channel);
        }

        @Override
        protected void doComplete(Runnable delivered) {
            channel.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(f -> delivered.run());
            exchangeDone(this, closeAfter || !channel.isActive());
        }
    }
}
