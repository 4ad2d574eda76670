package dev.quicfleet.proxy;

import dev.quicfleet.http.BodyReceiver;
import dev.quicfleet.http.Headers;
import dev.quicfleet.http.HttpExchange;
import dev.quicfleet.http.Protocol;
import dev.quicfleet.http.websocket.WebSocketService;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.ConnectTimeoutException;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.ReferenceCountUtil;
import java.util.Base64;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A proxied WebSocket: whatever form the client used — HTTP/1.1 {@code Upgrade}, HTTP/2 or HTTP/3 extended CONNECT —
 * the upstream gets an HTTP/1.1 {@code Upgrade: websocket} on a connection of its own (an upgraded connection never
 * returns to the pool). Once it answers {@code 101}, the client's exchange is accepted and bytes are relayed both
 * ways unchanged: WebSocket frames are the same on all three protocols, so close codes, pings and an extension the
 * two ends agreed on pass through without being parsed. Backpressure both ways: the upstream is read only while the
 * client can take more, and the client only while the upstream socket can.
 *
 * <p>Everything runs on the exchange's event loop, where the upstream channel is registered too.
 */
final class WebSocketTunnel extends ChannelInboundHandlerAdapter implements BodyReceiver {

    private final HttpExchange exchange;
    private final LoopPool pool;
    private Upstream upstream;
    private Channel channel;
    private String key;
    private boolean open;
    /** The client's side wants more but the upstream socket is full: demand once it drains. */
    private boolean demandWhenWritable;

    WebSocketTunnel(HttpExchange exchange, LoopPool pool) {
        this.exchange = exchange;
        this.pool = pool;
    }

    void start() {
        if (exchange.protocol() == Protocol.HTTP_1_1 && exchange.headers().get("sec-websocket-key") == null) {
            exchange.respond(400, "text/plain; charset=utf-8", "no Sec-WebSocket-Key (RFC 6455 section 4.1)\n");
            return;
        }
        upstream = pool.choose(null);
        if (upstream == null) {
            exchange.logFailure("no_healthy_upstream: every upstream is ejected");
            exchange.respond(503, "text/plain; charset=utf-8", "no healthy upstream\n");
            return;
        }
        if (upstream.h2c || upstream.tls) {
            // The tunnel speaks HTTP/1.1 Upgrade over plain TCP; RFC 8441 towards an HTTP/2 upstream and TLS towards
            // an https:// one are not built: say so rather than send an upgrade the upstream cannot read.
            fail(502, "bad_response: WebSocket to " + upstream.uri.getScheme() + ":// upstreams is not supported "
                    + "yet (use an http:// upstream for WebSocket routes)");
            return;
        }
        ProxyConfig config = pool.config();
        new Bootstrap().group(pool.loop())
                .channelFactory(LoopPool.socketChannels(pool.loop()))
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE,
                        config.connectTimeout().toMillis()))
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.AUTO_READ, false)
                .handler(this)
                .connect(upstream.address)
                .addListener((ChannelFutureListener) f -> {
                    if (f.isSuccess()) {
                        upstream.connected();
                        sendUpgrade();
                    } else {
                        upstream.connectFailed(f.cause());
                        boolean timeout = f.cause() instanceof ConnectTimeoutException;
                        fail(timeout ? 504 : 502, (timeout ? "connect_timeout" : "connect_failure") + ": upstream "
                                + upstream + " refused or failed the connection: " + f.cause().getMessage());
                    }
                });
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        channel = ctx.channel();
        ctx.pipeline().addBefore(ctx.name(), "http", new HttpClientCodec());
    }

    private void sendUpgrade() {
        if (!exchange.isOpen()) {
            channel.close();
            return;
        }
        byte[] nonce = new byte[16];
        ThreadLocalRandom.current().nextBytes(nonce);
        key = Base64.getEncoder().encodeToString(nonce);
        HttpRequest request = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, exchange.target());
        ForwardedHeaders.request(exchange.headers(), "GET", exchange.authority(), upstream.hostPort,
                exchange.connection().remote(), pool.hop(exchange.connection()), exchange.connection().earlyData(),
                ForwardedHeaders.Framing.NONE, -1, request.headers());
        request.headers().remove("sec-websocket-key");
        request.headers().set("upgrade", "websocket");
        request.headers().set("connection", "upgrade");
        request.headers().set("sec-websocket-key", key);
        request.headers().set("sec-websocket-version", "13");
        channel.writeAndFlush(request);
        channel.read();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (open && msg instanceof ByteBuf bytes) {
            exchange.write(bytes, false);
            return;
        }
        if (msg instanceof HttpResponse response) {
            onResponse(response);
        }
        if (msg instanceof HttpContent) {
            ReferenceCountUtil.release(msg); // the (empty) body of a 101, or of a refusal
        } else if (!(msg instanceof HttpResponse)) {
            ReferenceCountUtil.release(msg);
        }
    }

    private void onResponse(HttpResponse response) {
        int status = response.status().code();
        if (status != 101 || !WebSocketService.accept(key).equals(response.headers().get("sec-websocket-accept"))) {
            fail(502, "bad_response: upstream " + upstream + " refused the WebSocket upgrade: " + response.status());
            return;
        }
        if (!exchange.isOpen()) {
            channel.close();
            return;
        }
        Headers reply = new Headers();
        for (String name : new String[] {"sec-websocket-protocol", "sec-websocket-extensions"}) {
            String value = response.headers().get(name);
            if (value != null) {
                reply.set(name, value);
            }
        }
        if (exchange.protocol() == Protocol.HTTP_1_1) {
            reply.set("upgrade", "websocket");
            reply.set("connection", "upgrade");
            reply.set("sec-websocket-accept", WebSocketService.accept(exchange.headers().get("sec-websocket-key")));
        }
        exchange.logUpstream(upstream.hostPort);
        exchange.acceptUpgrade(reply);
        open = true;
        // From here the upstream connection carries frames: the codec goes, handing on what it had buffered.
        channel.pipeline().remove(HttpClientCodec.class);
        exchange.receiveBody(this);
        exchange.demand();
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (!open) {
            channel.read();
        } else if (exchange.isWritable()) {
            channel.read();
        } else if (exchange.isOpen()) {
            exchange.onWritable(this::clientWritable);
        }
    }

    private void clientWritable() {
        if (exchange.isOpen()) {
            channel.read();
        } else {
            channel.close();
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (demandWhenWritable && ctx.channel().isWritable()) {
            demandWhenWritable = false;
            exchange.demand();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (open) {
            exchange.end(); // the upstream closed (after its close frame, normally): so does the client's side
        } else {
            fail(502, "upstream_reset: upstream " + upstream
                    + " closed the connection before answering the WebSocket upgrade");
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }

    // ---- the client's side ----

    @Override
    public void onData(ByteBuf data) {
        channel.writeAndFlush(data);
        if (channel.isWritable()) {
            exchange.demand();
        } else {
            demandWhenWritable = true;
        }
    }

    @Override
    public void onEnd(Headers trailers) {
        // the client ended its stream (HTTP/2, HTTP/3): once what it sent is out, so does the upstream connection
        channel.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }

    @Override
    public void onError(Throwable cause) {
        channel.close();
    }

    private void fail(int status, String message) {
        if (channel != null) {
            channel.close();
        }
        if (!exchange.committed() && exchange.isOpen()) {
            exchange.logFailure(message);
            exchange.respond(status, "text/plain; charset=utf-8", message + "\n");
        }
    }
}
