package dev.quicfleet.proxy;

import dev.quicfleet.http.BodyReceiver;
import dev.quicfleet.http.ConnectionInfo;
import dev.quicfleet.http.Headers;
import dev.quicfleet.http.HttpExchange;
import dev.quicfleet.metrics.UpstreamFailure;
import dev.quicfleet.metrics.UpstreamRetry;
import dev.quicfleet.proxy.ForwardedHeaders.Framing;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ConnectTimeoutException;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeadersFactory;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One exchange forwarded to an upstream, entirely on the exchange's event loop.
 *
 * <p>Request: the head goes out once the connection is ready and the body's framing is known: the client's
 * {@code content-length}, or, without one, the first body event decides (bytes: {@code chunked}; the end: no body).
 * The body is pulled from the client with {@link HttpExchange#demand()} only while the upstream channel is writable,
 * so an upstream that reads slowly slows the client down through its flow control.
 *
 * <p>Response: the upstream channel reads only while the exchange is writable; otherwise it waits for
 * {@link HttpExchange#onWritable}, so a client that reads slowly slows the upstream down through TCP. Every piece of
 * body is written (and flushed) as it arrives: event streams and responses without a length are never held back.
 *
 * <p>Failures: a connect failure is retried once on another upstream (nothing was sent); an idempotent request
 * whose body was not touched is sent once more when its connection closed before the response: on a fresh
 * connection to the same upstream when a reused keep-alive one closed, else on another upstream. Otherwise:
 * {@code 502} when the upstream failed before the response head, {@code 503} when no upstream is healthy,
 * {@code 504} on a timeout, and a reset stream once the response started.
 */
final class ProxyCall implements BodyReceiver {

    private static final Logger log = LoggerFactory.getLogger(ProxyCall.class);
    private static final HttpHeadersFactory HEADERS = DefaultHttpHeadersFactory.headersFactory()
            .withValidation(false); // Headers validated names and values already
    private static final String TEXT = "text/plain; charset=utf-8";
    /** How often a waiting call looks at its clocks and at the client (it may have gone away). */
    private static final long POLL_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final HttpExchange exchange;
    private final LoopPool pool;
    private final ProxyConfig config;

    private Upstream upstream;
    private UpstreamConnection connection;
    private boolean connectRetried;
    private boolean staleRetried;
    /** Sent again on another upstream after a new connection closed before the response head. */
    private boolean resetRetried;
    /** An upstream's 425 to the early-data request was retried once the handshake completed: no longer early. */
    private boolean tooEarlyRetried;

    // the request
    private Framing framing;
    private ByteBuf held;
    private boolean bodyEnded;
    private Headers bodyTrailers;
    private boolean bodyTouched;
    private boolean demanding;
    private boolean headSent;
    private boolean requestSent;

    // the response
    private boolean responseStarted;
    private boolean committed;
    /** The head was given to the exchange and no body yet: flushed at the end of the upstream's read. */
    private boolean headUnflushed;
    private boolean informational;
    private boolean keepAlive;
    private boolean pausedForClient;
    private boolean finished;
    private long lastProgress;
    private ScheduledFuture<?> timer;
    private int status;
    private long headSentNanos;

    ProxyCall(HttpExchange exchange, LoopPool pool) {
        this.exchange = exchange;
        this.pool = pool;
        this.config = pool.config();
    }

    void start() {
        exchange.receiveBody(this);
        long length = exchange.contentLength();
        if (length >= 0) {
            framing = Framing.LENGTH;
            if (length == 0) {
                bodyEnded = true;
            }
        } else {
            demanding = true;
            exchange.demand(); // the first body event tells whether there is a body
        }
        if (!finished) {
            connect(null, null);
        }
    }

    // ---- connecting ----

    private void connect(Upstream excluded, Throwable previous) {
        Upstream chosen = pool.choose(excluded);
        if (chosen == null) {
            if (previous == null) {
                fail(UpstreamFailure.NO_HEALTHY_UPSTREAM, "no healthy upstream");
            } else {
                connectFailed(previous);
            }
            return;
        }
        upstream = chosen;
        exchange.logUpstream(chosen.toString());
        pool.acquire(chosen, this::connected);
    }

    private void connected(UpstreamConnection ready, Throwable cause) {
        if (ready == null) {
            if (finished) {
                return;
            }
            log.debug("connect to upstream {} failed for {} {}: {}", upstream, exchange.method(), exchange.path(),
                    cause.toString());
            if (!connectRetried && !(cause instanceof Error)) {
                connectRetried = true;
                pool.metrics().retry(UpstreamRetry.CONNECT_FAILURE);
                connect(upstream, cause); // nothing was sent: another upstream may take it
            } else {
                connectFailed(cause);
            }
            return;
        }
        if (finished || !exchange.isOpen()) {
            finish(false);
            pool.release(ready); // unused: good for the next exchange
            return;
        }
        connection = ready;
        ready.attach(this);
        pool.started(upstream);
        if (framing != null) {
            sendHead();
        }
    }

    private void connectFailed(Throwable cause) {
        if (cause instanceof ConnectTimeoutException) {
            fail(UpstreamFailure.CONNECT_TIMEOUT, "upstream " + upstream + " did not accept a connection within "
                    + ProxyConfig.format(config.connectTimeout()));
        } else {
            fail(UpstreamFailure.CONNECT_FAILURE, "upstream " + upstream + " refused or failed the connection: "
                    + cause.getMessage());
        }
    }

    // ---- the request ----

    private void sendHead() {
        headSent = true;
        headSentNanos = System.nanoTime();
        Channel channel = connection.channel();
        HttpRequest request = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.valueOf(exchange.method()),
                exchange.target(), HEADERS);
        ConnectionInfo client = exchange.connection();
        ForwardedHeaders.request(exchange.headers(), exchange.method(), exchange.authority(), upstream.hostPort,
                client.remote(), pool.hop(client), client.earlyData() && !tooEarlyRetried, framing,
                exchange.contentLength(),
                request.headers());
        channel.write(request, channel.voidPromise());
        if (held != null) {
            ByteBuf data = held;
            held = null;
            channel.write(new DefaultHttpContent(data), channel.voidPromise());
        }
        if (bodyEnded) {
            sendEnd();
        } else {
            channel.flush();
        }
        progress();
        armTimer(POLL_NANOS);
        channel.read(); // the response may come at any time (an early 413, say)
        askForBody();
    }

    private void sendEnd() {
        Channel channel = connection.channel();
        LastHttpContent last = LastHttpContent.EMPTY_LAST_CONTENT;
        // HTTP/1.1 carries trailers only in a chunked body; an HTTP/2 stream carries them after any body.
        boolean carriesTrailers = framing == Framing.CHUNKED || connection instanceof Http2UpstreamStream;
        if (carriesTrailers && bodyTrailers != null && !bodyTrailers.isEmpty()) {
            last = new DefaultLastHttpContent(Unpooled.EMPTY_BUFFER, HEADERS);
            ForwardedHeaders.requestTrailers(bodyTrailers, last.trailingHeaders());
        }
        channel.writeAndFlush(last, channel.voidPromise());
        requestSent = true;
        progress(); // the response timeout counts from here
    }

    /** Pulls more request body while the upstream can take it. */
    private void askForBody() {
        if (finished || bodyEnded || demanding || !headSent) {
            return;
        }
        if (!exchange.isOpen()) {
            clientGone("the client went away during the request body");
            return;
        }
        if (connection.channel().isWritable()) {
            demanding = true;
            exchange.demand();
        }
        // else upstreamWritable() asks again
    }

    @Override
    public void onData(ByteBuf data) {
        demanding = false;
        bodyTouched = true;
        if (finished) {
            data.release();
            return;
        }
        if (!headSent) {
            if (framing == null) {
                framing = Framing.CHUNKED;
            }
            held = held == null ? data : Unpooled.wrappedBuffer(held, data);
            if (connection != null) {
                sendHead();
            }
            return;
        }
        Channel channel = connection.channel();
        channel.writeAndFlush(new DefaultHttpContent(data), channel.voidPromise());
        progress();
        askForBody();
    }

    @Override
    public void onEnd(Headers trailers) {
        demanding = false;
        if (bodyEnded) {
            return;
        }
        bodyEnded = true;
        bodyTrailers = trailers;
        if (finished) {
            return;
        }
        if (!headSent) {
            if (framing == null) {
                framing = Framing.NONE;
            }
            if (connection != null) {
                sendHead();
            }
            return;
        }
        sendEnd();
    }

    @Override
    public void onError(Throwable cause) {
        demanding = false;
        if (!finished) {
            clientGone("request body failed: " + cause.getMessage());
        }
    }

    void upstreamWritable() {
        if (!finished && !requestSent) {
            progress();
            askForBody();
        }
    }

    // ---- the response ----

    void upstreamRead(Object msg) {
        if (finished) {
            ReferenceCountUtil.release(msg);
            return;
        }
        responseStarted = true;
        progress();
        if (msg instanceof HttpResponse response) {
            if (response.decoderResult().isFailure()) {
                ReferenceCountUtil.release(msg);
                badResponse("an invalid response head: " + response.decoderResult().cause().getMessage());
                return;
            }
            int code = response.status().code();
            if (code < 200) {
                ReferenceCountUtil.release(msg);
                if (code == 101) {
                    badResponse("101 Switching Protocols, which the proxy did not ask for");
                } else {
                    informational = true; // 100 Continue, 103 Early Hints: not passed on; the real head follows
                }
                return;
            }
            if (code == 425 && retryTooEarly()) {
                ReferenceCountUtil.release(msg);
                return;
            }
            upstream.responded(code);
            status = code;
            keepAlive = HttpUtil.isKeepAlive(response);
            committed = true;
            if (msg instanceof LastHttpContent whole && !whole.content().isReadable()
                    && !exchange.method().equals("HEAD")) {
                // An HTTP/2 upstream ended the stream with its head (gRPC's trailers-only response, whose
                // grpc-status is in it): the client's stream ends with the head too, not with an empty DATA.
                whole.release();
                exchange.respond(code, ForwardedHeaders.response(response.headers()), Unpooled.EMPTY_BUFFER);
                finish(keepAlive && requestSent && connection.channel().isActive());
                return;
            }
            exchange.head(code, ForwardedHeaders.response(response.headers()));
            headUnflushed = true;
            if (!(msg instanceof HttpContent)) {
                return;
            }
        }
        if (!(msg instanceof HttpContent content)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (informational) {
            informational = !(content instanceof LastHttpContent);
            content.release();
            return;
        }
        if (content.decoderResult().isFailure()) {
            content.release();
            badResponse("an invalid response body: " + content.decoderResult().cause().getMessage());
            return;
        }
        ByteBuf data = content.content();
        boolean readable = data.isReadable();
        if (readable || content instanceof LastHttpContent) {
            headUnflushed = false; // leaves with these bytes or with the end
        }
        if (content instanceof LastHttpContent last) {
            Headers trailers = last.trailingHeaders().isEmpty() ? null
                    : ForwardedHeaders.trailers(last.trailingHeaders());
            if (readable) {
                exchange.write(data, trailers == null);
            } else {
                data.release();
            }
            if (trailers != null) {
                exchange.end(trailers);
            } else if (!readable) {
                exchange.end();
            }
            pool.metrics().response(upstream.index, status, System.nanoTime() - headSentNanos);
            // Kept for the next exchange only when the upstream said keep-alive and has the whole request.
            finish(keepAlive && requestSent && connection.channel().isActive());
        } else if (readable) {
            exchange.write(data, false);
        } else {
            data.release();
        }
    }

    void upstreamReadComplete() {
        if (finished) {
            return;
        }
        Channel channel = connection.channel();
        if (headUnflushed) {
            // A head whose body is not here yet (an event stream, a slow upstream): the client gets it now.
            headUnflushed = false;
            exchange.flush();
        }
        if (!committed) {
            channel.read(); // the head is not complete yet
        } else if (exchange.isWritable()) {
            channel.read();
        } else if (exchange.isOpen()) {
            pausedForClient = true;
            exchange.onWritable(this::clientWritable);
        } else {
            clientGone("the client went away during the response");
        }
    }

    private void clientWritable() {
        pausedForClient = false;
        if (finished) {
            return;
        }
        if (!exchange.isOpen()) {
            clientGone("the client went away during the response");
            return;
        }
        progress();
        connection.channel().read();
    }

    /**
     * RFC 8470 §5.2: the upstream answered {@code 425 Too Early} to a request that arrived in early data. Sent again,
     * once, without {@code Early-Data: 1}, when the client's handshake has completed; the 425's connection is closed
     * (its body is not worth reading). Not when the request body was already consumed (it cannot be sent again):
     * then the client gets the 425 and may retry itself, as §5.2 lets it.
     *
     * @return whether the 425 is taken care of (retried, or waiting for the handshake)
     */
    private boolean retryTooEarly() {
        if (tooEarlyRetried || bodyTouched || !exchange.connection().earlyData()) {
            return false;
        }
        tooEarlyRetried = true;
        pool.metrics().retry(UpstreamRetry.TOO_EARLY);
        detach(false);
        cancelTimer();
        headSent = false;
        requestSent = false;
        responseStarted = false;
        informational = false;
        boolean waits = exchange.whenHandshakeDone(() -> {
            if (finished) {
                return;
            }
            if (!exchange.isOpen()) {
                clientGone("the client went away before its handshake completed");
                return;
            }
            connect(null, null);
        });
        if (!waits) {
            clientGone("the connection closed before its handshake completed");
        }
        return true;
    }

    /** The upstream connection closed or failed before the response was complete. */
    void upstreamClosed(Throwable cause) {
        if (finished) {
            return;
        }
        if (!responseStarted && !bodyTouched && idempotent()) {
            // Nothing of the response has reached the client and no body byte was consumed: an idempotent request
            // may be sent again (RFC 9110 §9.2.2). A kept-alive connection closed just as it went out: once, on a
            // fresh one to the same upstream. A new connection closed before the answer (the upstream died, say):
            // once, on another upstream, if there is one. Both may happen to one request: an upstream killed under
            // load closes the kept-alive connection, and the fresh one too, accepted by the dying process's listener
            // a moment before it went (ProxyFailoverIT saw such a GET get 502 when one retry was all it had).
            boolean reused = connection.reused();
            boolean stale = reused && !staleRetried;
            Upstream next = null;
            if (stale) {
                staleRetried = true;
                next = upstream;
            } else if (!resetRetried) {
                resetRetried = true;
                next = pool.choose(upstream);
            }
            if (next != null) {
                pool.metrics().retry(stale ? UpstreamRetry.STALE_CONNECTION : UpstreamRetry.UPSTREAM_RESET);
                detach(false);
                cancelTimer();
                headSent = false;
                requestSent = false;
                upstream = next;
                exchange.logUpstream(next.toString());
                // After a kept-alive connection closed under the request, a new connection: another idle one to
                // the same upstream may be just as dead (ProxyFailoverIT saw a GET get 502 that way). Should the
                // new connection fail to connect, the connect retry takes another upstream.
                pool.acquire(next, stale, this::connected);
                return;
            }
        }
        String why = cause == null ? "closed the connection" : "failed: " + cause.getMessage();
        if (!committed) {
            fail(UpstreamFailure.UPSTREAM_RESET, "upstream " + upstream + " " + why + " before the response head");
        } else {
            log.debug("upstream {} {} during the response to {} {}: resetting the client's stream", upstream, why,
                    exchange.method(), exchange.path());
            abort(UpstreamFailure.UPSTREAM_RESET, "upstream " + upstream + " " + why + " during the response");
        }
    }

    private void badResponse(String what) {
        if (!committed) {
            fail(UpstreamFailure.BAD_RESPONSE, "upstream " + upstream + " sent " + what);
        } else {
            log.debug("upstream {} sent {} for {} {}: resetting the client's stream", upstream, what,
                    exchange.method(), exchange.path());
            abort(UpstreamFailure.BAD_RESPONSE, "upstream " + upstream + " sent " + what + " during the response");
        }
    }

    // ---- time ----

    private void progress() {
        lastProgress = System.nanoTime();
    }

    private void armTimer(long delayNanos) {
        timer = pool.loop().schedule(this::checkTimer, delayNanos, TimeUnit.NANOSECONDS);
    }

    private void cancelTimer() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    /**
     * Runs at most a second apart while the call waits: the response's first byte is due within the response timeout
     * of the request's end, every later byte (and, while the request is sent, the upstream's reading) within the idle
     * timeout of the one before. Time the client makes the upstream wait (not reading the response) is not counted.
     */
    private void checkTimer() {
        timer = null;
        if (finished) {
            return;
        }
        if (!exchange.isOpen()) {
            clientGone("the client went away");
            return;
        }
        long now = System.nanoTime();
        long limit;
        String waitingFor;
        UpstreamFailure reason = UpstreamFailure.IDLE_TIMEOUT;
        if (pausedForClient) {
            lastProgress = now;
            limit = config.idleTimeout().toNanos();
            waitingFor = "";
        } else if (!requestSent && !responseStarted) {
            limit = config.idleTimeout().toNanos();
            waitingFor = "did not read the request for " + ProxyConfig.format(config.idleTimeout());
        } else if (!responseStarted) {
            limit = config.responseTimeout().toNanos();
            waitingFor = "did not respond within " + ProxyConfig.format(config.responseTimeout());
            reason = UpstreamFailure.RESPONSE_TIMEOUT;
        } else {
            limit = config.idleTimeout().toNanos();
            waitingFor = "sent no response byte for " + ProxyConfig.format(config.idleTimeout());
        }
        long left = limit - (now - lastProgress);
        if (left > 0) {
            armTimer(Math.min(left, POLL_NANOS));
            return;
        }
        String why = "upstream " + upstream + " " + waitingFor;
        if (!committed) {
            fail(reason, why);
        } else {
            log.debug("{} during the response to {} {}: resetting the client's stream", why, exchange.method(),
                    exchange.path());
            abort(reason, why + " during the response");
        }
    }

    // ---- the end ----

    private boolean idempotent() {
        return switch (exchange.method()) {
            case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE" -> true;
            default -> false;
        };
    }

    /** Ends the call; the connection goes back to the pool when {@code reuse}, else it is closed. */
    private void finish(boolean reuse) {
        if (finished) {
            return;
        }
        finished = true;
        cancelTimer();
        if (held != null) {
            held.release();
            held = null;
        }
        detach(reuse);
    }

    private void detach(boolean reuse) {
        UpstreamConnection c = connection;
        if (c == null) {
            return;
        }
        connection = null;
        c.detach(reuse);
        pool.finished(upstream);
        if (reuse) {
            pool.release(c);
        } else {
            c.channel().close();
        }
    }

    /**
     * Ends the call with {@code reason}'s status (502, 503 or 504): counted by reason, and logged in the access log
     * as {@code reason: why} ({@code connect_failure: upstream http://... refused ...}).
     */
    private void fail(UpstreamFailure reason, String why) {
        log.debug("{} {}: {} ({})", exchange.method(), exchange.path(), reason.status(), why);
        pool.metrics().failure(reason);
        exchange.logFailure(reason.tagValue() + ": " + why);
        finish(false);
        if (exchange.isOpen() && !exchange.committed()) {
            exchange.respond(reason.status(), TEXT, why + "\n");
        }
    }

    /** Ends a call whose response started: the client's stream is reset (HTTP/1.1: connection closed). */
    private void abort(UpstreamFailure reason, String why) {
        pool.metrics().failure(reason);
        exchange.logFailure(reason.tagValue() + ": " + why);
        finish(false);
        exchange.abort();
    }

    private void clientGone(String why) {
        log.debug("{} {} to upstream {}: {}", exchange.method(), exchange.path(), upstream, why);
        abort(UpstreamFailure.CLIENT_GONE, why);
    }
}
