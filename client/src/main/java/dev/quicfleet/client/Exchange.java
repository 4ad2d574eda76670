package dev.quicfleet.client;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http3.DefaultHttp3DataFrame;
import io.netty.handler.codec.http3.DefaultHttp3HeadersFrame;
import io.netty.handler.codec.http3.Http3DataFrame;
import io.netty.handler.codec.http3.Http3Exception;
import io.netty.handler.codec.http3.Http3Headers;
import io.netty.handler.codec.http3.Http3HeadersFrame;
import io.netty.handler.codec.http3.Http3RequestStreamInboundHandler;
import io.netty.handler.codec.quic.QuicException;
import io.netty.handler.codec.quic.QuicStreamChannel;
import io.netty.handler.codec.quic.QuicStreamResetException;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * One request and its response on one request stream: writes the request (headers, body), reads the response into
 * the {@link BodyHandler.Sink}. Handler methods run on the connection's event loop.
 */
final class Exchange<T> extends Http3RequestStreamInboundHandler {

    /** H3_REQUEST_CANCELLED: what we reset a stream with when we give up on it. */
    private static final int H3_REQUEST_CANCELLED = 0x10c;
    private static final int CHUNK = 64 * 1024;
    private static final int CHUNKS_IN_FLIGHT = 8;

    private final H3Connection connection;
    private final H3Request request;
    private final BodyHandler.Sink<T> sink;
    private final CompletableFuture<H3Response<T>> result = new CompletableFuture<>();
    private ChannelHandlerContext ctx;
    private H3Response<T> response;
    private ScheduledFuture<?> timeout;
    private volatile boolean finished;
    private boolean sentEarly;
    private long streamId = -1;
    private final List<Map.Entry<String, String>> trailers = new ArrayList<>();

    Exchange(H3Connection connection, H3Request request, BodyHandler.Sink<T> sink) {
        this.connection = connection;
        this.request = request;
        this.sink = sink;
        sink.requestMore = () -> connection.loop().execute(() -> {
            if (ctx != null && !finished) {
                ctx.read();
                // reading may open the flow-control window: the update must not wait for held ACKs
                connection.wrote();
            }
        });
        sink.cancel = () -> connection.loop().execute(() -> fail(new H3StreamResetException(
                "response body abandoned by the reader", H3_REQUEST_CANCELLED)));
    }

    CompletableFuture<H3Response<T>> result() {
        return result;
    }

    H3Request request() {
        return request;
    }

    boolean isDone() {
        return finished;
    }

    void sentEarly(boolean early) {
        this.sentEarly = early;
    }

    /** The request stream's id, -1 until the stream exists. */
    long streamId() {
        return streamId;
    }

    void streamId(long id) {
        this.streamId = id;
    }

    void scheduleTimeout(EventLoop loop) {
        timeout = loop.schedule(() -> fail(new H3TimeoutException("no complete response from " + connection.peer()
                + " for " + request.method() + " " + request.path() + " within "
                + H3Client.format(request.timeout()))), request.timeout().toNanos(), TimeUnit.NANOSECONDS);
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        // Reads are asked for explicitly, so a slow body reader holds the server back through flow control.
        ctx.channel().config().setAutoRead(false);
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        if (finished) {
            // failed before its stream was ready (e.g. refused by a GOAWAY): send nothing
            ((QuicStreamChannel) ctx.channel()).shutdown(H3_REQUEST_CANCELLED).addListener(f -> ctx.close());
            return;
        }
        writeRequest((QuicStreamChannel) ctx.channel());
        ctx.read();
        ctx.fireChannelActive();
    }

    private void writeRequest(QuicStreamChannel stream) {
        Http3HeadersFrame frame = new DefaultHttp3HeadersFrame();
        Http3Headers h = frame.headers();
        h.method(request.method()).scheme("https").authority(request.authority()).path(request.path());
        for (Map.Entry<String, String> e : request.headers()) {
            h.add(e.getKey(), e.getValue());
        }
        RequestBody body = request.body();
        if (!(body instanceof RequestBody.Empty) && body.length() >= 0 && !h.contains("content-length")) {
            h.setLong("content-length", body.length());
        }
        switch (body) {
            case RequestBody.Empty empty -> endWith(stream, stream.write(frame));
            case RequestBody.Bytes bytes -> {
                stream.write(frame).addListener(f -> writeFailed(f.cause()));
                endWith(stream, stream.write(new DefaultHttp3DataFrame(Unpooled.wrappedBuffer(bytes.bytes))));
            }
            case RequestBody.Streamed streamed -> {
                stream.writeAndFlush(frame).addListener(f -> writeFailed(f.cause()));
                Thread.ofVirtual().name("h3-upload").start(() -> pump(stream, streamed));
            }
        }
        connection.wrote();
    }

    /**
     * Ends the request after {@code last} (the body's last write, or the HEADERS frame's when there is no body): the
     * trailers' HEADERS frame if there are any, a flush, then the stream's FIN once the last frame left. On the event
     * loop.
     */
    private void endWith(QuicStreamChannel stream, ChannelFuture last) {
        last.addListener(f -> writeFailed(f.cause()));
        ChannelFuture end = last;
        if (!request.trailers().isEmpty()) {
            Http3HeadersFrame trailers = new DefaultHttp3HeadersFrame();
            for (Map.Entry<String, String> e : request.trailers()) {
                trailers.headers().add(e.getKey(), e.getValue());
            }
            end = stream.write(trailers);
        }
        stream.flush();
        // FIN only after the last frame left: a shutdown while writes wait for flow control drops them
        end.addListener(f -> {
            if (f.isSuccess()) {
                stream.shutdownOutput().addListener(g -> writeFailed(g.cause()));
            } else {
                writeFailed(f.cause());
            }
        });
    }

    /** Copies a streamed body into DATA frames, a few chunks ahead of what QUIC has taken. */
    private void pump(QuicStreamChannel stream, RequestBody.Streamed body) {
        Semaphore window = new Semaphore(CHUNKS_IN_FLIGHT);
        ChannelFuture last = null;
        try (InputStream in = body.stream.get()) {
            byte[] buf = new byte[CHUNK];
            while (!finished) {
                int n = in.readNBytes(buf, 0, buf.length);
                if (n <= 0) {
                    break;
                }
                while (!window.tryAcquire(100, TimeUnit.MILLISECONDS)) {
                    if (finished) {
                        return;
                    }
                }
                last = stream.writeAndFlush(new DefaultHttp3DataFrame(Unpooled.wrappedBuffer(buf, 0, n).copy()));
                // after the write on the event loop: tasks run in order
                connection.loop().execute(connection::wrote);
                last.addListener(f -> {
                            window.release();
                            writeFailed(f.cause());
                        });
            }
            if (!finished) {
                // the trailers (if any) and the FIN on the event loop, once the last chunk left
                ChannelFuture lastChunk = last != null ? last : stream.newSucceededFuture();
                connection.loop().execute(() -> {
                    endWith(stream, lastChunk);
                    connection.wrote();
                });
            }
        } catch (IOException | UncheckedIOException e) {
            String why = e instanceof UncheckedIOException u ? u.getCause().getMessage() : e.getMessage();
            connection.loop().execute(() -> fail(new H3Exception("cannot read the request body: " + why, e)));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void writeFailed(Throwable cause) {
        if (cause == null || finished) {
            return;
        }
        connection.loop().execute(() -> fail(map(cause, "sending the request")));
    }

    @Override
    protected void channelRead(ChannelHandlerContext ctx, Http3HeadersFrame frame) {
        Http3Headers headers = frame.headers();
        if (response == null) {
            CharSequence status = headers.status();
            int code;
            try {
                code = status == null ? -1 : Integer.parseInt(status.toString());
            } catch (NumberFormatException e) {
                code = -1;
            }
            if (code < 100 || code > 999) {
                fail(new H3ProtocolException("response from " + connection.peer() + " has no valid :status ("
                        + status + ")"));
                return;
            }
            if (code < 200) {
                return; // informational (100 Continue, 103 Early Hints): the real head follows
            }
            response = new H3Response<>(code, fields(headers), sink.completesAtHead() ? sink.result() : null,
                    connection, sentEarly);
            if (sink.completesAtHead()) {
                result.complete(response);
            }
        } else {
            trailers.addAll(fields(headers));
        }
    }

    private static List<Map.Entry<String, String>> fields(Http3Headers headers) {
        List<Map.Entry<String, String>> out = new ArrayList<>();
        for (Map.Entry<CharSequence, CharSequence> e : headers) {
            String name = e.getKey().toString();
            if (!name.startsWith(":")) {
                out.add(Map.entry(name, e.getValue().toString()));
            }
        }
        return out;
    }

    @Override
    protected void channelRead(ChannelHandlerContext ctx, Http3DataFrame frame) {
        if (finished) {
            frame.release();
            return;
        }
        if (response == null) {
            frame.release();
            fail(new H3ProtocolException("response from " + connection.peer() + " sent DATA before its headers"));
            return;
        }
        try {
            sink.onData(frame.content());
        } catch (H3Exception e) {
            fail(e);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (!finished && sink.wantsMore()) {
            ctx.read();
        }
        ctx.fireChannelReadComplete();
    }

    @Override
    protected void channelInputClosed(ChannelHandlerContext ctx) {
        if (finished) {
            return;
        }
        if (response == null) {
            fail(new H3ProtocolException("response from " + connection.peer() + " ended before its headers"));
            return;
        }
        finished = true;
        cancelTimeout();
        response.trailers(trailers);
        sink.onEnd();
        if (!sink.completesAtHead()) {
            H3Response<T> full = new H3Response<>(response.status(), response.headers(), sink.result(), connection,
                    sentEarly);
            full.trailers(trailers);
            result.complete(full);
        }
        connection.done(this);
    }

    @Override
    protected void handleQuicException(ChannelHandlerContext ctx, QuicException exception) {
        fail(map(exception, "receiving the response"));
    }

    @Override
    protected void handleHttp3Exception(ChannelHandlerContext ctx, Http3Exception exception) {
        fail(new H3ProtocolException("HTTP/3 error from " + connection.peer() + ": " + exception.getMessage()
                + " (" + exception.errorCode() + ")", exception));
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof QuicException q) {
            handleQuicException(ctx, q);
        } else if (cause instanceof Http3Exception h) {
            handleHttp3Exception(ctx, h);
        } else {
            fail(map(cause, "receiving the response"));
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (!finished) {
            fail(connection.connectionGone());
        }
        ctx.fireChannelInactive();
    }

    private H3Exception map(Throwable cause, String doing) {
        if (cause instanceof H3Exception h3) {
            return h3;
        }
        if (cause instanceof QuicStreamResetException reset) {
            long code = reset.applicationProtocolCode();
            return new H3StreamResetException("stream reset by " + connection.peer() + " while " + doing
                    + (code >= 0 ? " (error 0x" + Long.toHexString(code) + " " + H3Errors.name(code) + ")" : ""),
                    code, cause);
        }
        if (cause instanceof java.nio.channels.ClosedChannelException || cause instanceof QuicException) {
            H3Exception gone = connection.connectionGone();
            if (cause instanceof QuicException q && !(gone instanceof H3TimeoutException)) {
                return new H3StreamResetException("stream to " + connection.peer() + " failed while " + doing + ": "
                        + q.getMessage(), -1, cause);
            }
            return gone;
        }
        return new H3Exception("exchange with " + connection.peer() + " failed while " + doing + ": " + cause,
                cause);
    }

    /** Ends the exchange with {@code cause} (on the event loop); resets the stream if it is still open. */
    void fail(H3Exception cause) {
        if (finished) {
            return;
        }
        finished = true;
        cancelTimeout();
        sink.onError(cause);
        result.completeExceptionally(cause);
        if (ctx != null && ctx.channel().isOpen()) {
            QuicStreamChannel stream = (QuicStreamChannel) ctx.channel();
            stream.shutdown(H3_REQUEST_CANCELLED).addListener(f -> stream.close());
            connection.wrote();
        }
        connection.done(this);
    }

    private void cancelTimeout() {
        if (timeout != null) {
            timeout.cancel(false);
        }
    }
}
