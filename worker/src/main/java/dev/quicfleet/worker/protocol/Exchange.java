package dev.quicfleet.worker.protocol;

import dev.quicfleet.http.BodyReceiver;
import dev.quicfleet.http.ConnectionInfo;
import dev.quicfleet.http.Handler;
import dev.quicfleet.http.Headers;
import dev.quicfleet.http.HttpExchange;
import dev.quicfleet.http.Request;
import dev.quicfleet.http.Response;
import dev.quicfleet.http.Service;
import dev.quicfleet.metrics.HttpProtocol;
import dev.quicfleet.metrics.TimeoutReason;
import dev.quicfleet.metrics.WorkerMetrics;
import dev.quicfleet.worker.compression.Compression;
import dev.quicfleet.worker.compression.ContentCoding;
import dev.quicfleet.worker.compression.ResponseEncoder;
import dev.quicfleet.worker.log.AccessLog;
import dev.quicfleet.worker.log.AccessLogFormat;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.EventLoop;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One request/response exchange, whatever the protocol: the {@link HttpExchange} an event-loop {@link Service} sees,
 * and, once a service hands it to a blocking {@link Handler} ({@link #runBlocking}), the {@link Request} and
 * {@link Response} that handler sees.
 *
 * <p>The exchange is the {@link Request}; {@link #response()} is the matching {@link Response}.
 *
 * <p>Threads: the protocol adapter (on the channel's event loop) creates the exchange, starts the service and feeds
 * the request body. A service writes on the event loop, straight into the protocol's framing, so a response written
 * while the request is read leaves with the ACKs in as few packets as it needs. A blocking handler runs on a virtual
 * thread; each of its network writes is posted to the event loop as a task, it never touches the pipeline. The
 * subclass implements the protocol's framing in the {@code do*} methods, which always run on the event loop.
 *
 * <p>Backpressure on the response: the handler thread blocks in {@link #awaitWritable()} while more than
 * {@link #MAX_QUEUED} bytes are posted but not yet written, while more than {@link #MAX_UNFINISHED} bytes are written
 * but not yet taken by the transport, or while the channel is not writable (the QUIC stream has no send capacity,
 * the HTTP/2 stream window is exhausted, or the TCP socket buffer is full); {@link #isWritable()} says the same to
 * services on the event loop. The unfinished bytes count because Netty 4.2.18's QUIC stream channel turns writable
 * again as soon as quiche has any capacity, however much it still holds queued itself: a WebSocket flood to a client
 * that read nothing piled up 20-55 MB there.
 *
 * <p>Slow clients: a client that does not read the response for the body timeout, or (on HTTP/1.1 and HTTP/2)
 * sends its request body slower than the minimum rate, has its stream reset (HTTP/2, HTTP/3) or its connection
 * closed (HTTP/1.1), counted in {@code quicfleet.http.timeouts}. A slow client is not a server failure: one DEBUG
 * line, no stack trace.
 */
public abstract class Exchange implements Request, HttpExchange {

    private static final Logger log = LoggerFactory.getLogger(Exchange.class);

    /** Response body bytes collected before they are sent as one DATA frame / chunk. */
    static final int CHUNK = 16 * 1024;
    /** Response bytes posted to the event loop but not yet written, above which the handler waits. */
    static final int MAX_QUEUED = 256 * 1024;
    /** Response bytes written to the channel whose write has not completed, above which the exchange is not writable. */
    static final int MAX_UNFINISHED = 256 * 1024;

    protected final Channel channel;
    protected final ExchangeDispatcher dispatcher;
    private final ConnectionInfo connection;
    private final String method;
    private final String target;
    private final String path;
    private final String query;
    private String routePath;
    private final String authority;
    private final Headers requestHeaders;
    private final long contentLength;
    protected final RequestBody requestBody;
    private final boolean head;
    private final long startNanos = System.nanoTime();
    /** Response body bytes handed to the network (written by the handler thread before completion is posted). */
    private long bodyBytesSent;
    /** For the access log: why the exchange failed, and the upstream a service forwarded it to (or {@code null}). */
    private volatile String failure;
    private volatile String upstream;
    /** Compresses the response body when {@link #commit} chose a coding; used on the event loop only. */
    private ResponseEncoder encoder;

    private int status = 200;
    private Headers responseHeaders = new Headers();
    private Headers responseTrailers = new Headers();
    private final ResponseBody responseBody = new ResponseBody();
    private volatile boolean committed;
    private boolean finished;

    private final AtomicBoolean readRequested = new AtomicBoolean();
    private final AtomicLong queuedBytes = new AtomicLong();
    /** Written on the event loop only; read by a blocking handler's thread too. */
    private volatile long unfinishedBytes;
    private final ReentrantLock writeLock = new ReentrantLock();
    private final Condition writeChanged = writeLock.newCondition();
    private volatile boolean writerWaiting;
    private volatile Throwable writeFailure;
    /** The stream was reset or the connection closed by this side; touched on the event loop only. */
    private boolean aborted;
    /** The request body watch (see {@link #watchRequestBody}); event loop only, except {@link #lastBodyNanos}. */
    private ScheduledFuture<?> bodyWatch;
    private long bodyBytes;
    private long bodyWatchedBytes;
    private long bodyReadingNanos;
    private long bodyStalledNanos;
    private volatile long lastBodyNanos = System.nanoTime();
    private volatile boolean bodyWatched;
    /** Event loop only: the service's body receiver, whether it asked for more, whether it heard the end. */
    private BodyReceiver receiver;
    private boolean demanded;
    private boolean receiverDone;
    /** Event loop only: a blocking handler serves this exchange (no event-loop writes any more). */
    private boolean blocking;
    /** Event loop only: the service ended (or aborted) the response; nothing more is written. */
    private boolean responseEnded;
    /** Event loop only: {@link #doComplete} ran, or is about to. */
    private boolean completed;
    private Runnable writableTask;
    /** Event loop only: when the service began waiting for writability, and whether a timer checks the wait. */
    private long waitingSinceNanos;
    private boolean sendWatched;
    /** The protocol the request asks to switch to (WebSocket), and whether the service accepted it. */
    private String upgradeProtocol;
    private volatile boolean upgraded;

    protected Exchange(Channel channel, ExchangeDispatcher dispatcher, ConnectionInfo connection, String method, String target,
             String authority, Headers requestHeaders) {
        this.channel = channel;
        this.dispatcher = dispatcher;
        this.connection = connection;
        this.method = method;
        this.target = target;
        int q = target.indexOf('?');
        this.path = q < 0 ? target : target.substring(0, q);
        this.query = q < 0 ? "" : target.substring(q + 1);
        this.routePath = path;
        this.authority = authority == null ? "" : authority;
        this.requestHeaders = requestHeaders.asReadOnly();
        this.contentLength = parseContentLength(requestHeaders.get("content-length"));
        this.head = "HEAD".equals(method);
        this.requestBody = new RequestBody(this, dispatcher.bodyTimeout());
    }

    // ---- protocol hooks, always called on the event loop ----

    /** Sends status and headers; {@code endStream} when there is no body and no trailers. */
    protected abstract void doWriteHead(int status, Headers headers, boolean endStream);

    /** Sends body bytes (takes ownership); {@code endStream} when nothing follows. */
    protected abstract ChannelFuture doWriteData(ByteBuf data, boolean endStream);

    /** Ends the response, with {@code trailers} when not empty. */
    protected abstract ChannelFuture doWriteEnd(Headers trailers);

    /** Aborts an incomplete response: reset the stream (HTTP/3, HTTP/2) or close the connection (HTTP/1.1). */
    protected abstract void doAbort();

    /**
     * Drops a client too slow for a limit: reset the stream with a "cancelled" code (HTTP/2, HTTP/3), or reset the
     * connection (HTTP/1.1), so that nothing it holds (send buffers, a handler thread) outlives the limit.
     */
    protected void doTimeout(TimeoutReason reason) {
        doAbort();
    }

    /**
     * The response has been fully handed to the channel and the handler returned: stop the request body
     * (STOP_SENDING / RST_STREAM), move on to the next request (HTTP/1.1), and run {@code delivered} once the
     * response has left this process (stream closed, or last write flushed). Until then the exchange counts as in
     * flight, so a drain does not cut off the tail of a response.
     */
    protected abstract void doComplete(Runnable delivered);

    /** The status that accepts a protocol switch: 200 (HTTP/2 and HTTP/3 extended CONNECT); HTTP/1.1 says 101. */
    protected int upgradeStatus() {
        return 200;
    }

    /** Whether the service accepted a protocol switch: the body carries the new protocol's bytes both ways. */
    protected final boolean upgraded() {
        return upgraded;
    }

    /**
     * Set by the protocol adapter before dispatch when the request asks to switch protocols ({@code Upgrade} or
     * {@code :protocol}); such a request's body is not watched for a minimum rate.
     */
    public final void upgradeProtocol(String protocol) {
        this.upgradeProtocol = protocol == null ? null : protocol.toLowerCase(Locale.ROOT);
    }

    /** Adds protocol-specific response headers at commit time (e.g. {@code alt-svc} on TCP). */
    protected void decorateHeaders(Headers headers) {
        if (dispatcher.altSvc() != null && !headers.contains("alt-svc")) {
            headers.set("alt-svc", dispatcher.altSvc());
        }
    }

    // ---- called by the protocol adapter on the event loop ----

    /** Request body bytes arrived (takes ownership): counted for the body watch, then queued for the handler. */
    public final void offerBody(ByteBuf data) {
        int n = data.readableBytes();
        if (n > 0) {
            bodyBytes += n;
            lastBodyNanos = System.nanoTime();
        }
        requestBody.offer(data);
        deliverBody();
    }

    /**
     * Watches the request body until it ends: while the exchange reads it (the handler keeps up), no byte for the
     * body timeout, or, after the first body timeout, an average below {@code minRate} bytes per second (0: no rate
     * check) drops the client. Time in which the handler does not read is not counted: a slow handler is not the
     * client's fault. Call on the event loop after {@link ExchangeDispatcher#dispatch}, only when body bytes follow,
     * and feed the body through {@link #offerBody}.
     */
    public final void watchRequestBody(long minRate) {
        Duration timeout = dispatcher.bodyTimeout();
        long tick = Math.clamp(timeout.toNanos() / 8, TimeUnit.MILLISECONDS.toNanos(250), TimeUnit.SECONDS.toNanos(1));
        bodyWatched = true;
        lastBodyNanos = System.nanoTime();
        bodyWatch = channel.eventLoop().scheduleAtFixedRate(() -> checkBody(minRate, timeout.toNanos(), tick),
                tick, tick, TimeUnit.NANOSECONDS);
    }

    private void checkBody(long minRate, long timeoutNanos, long tick) {
        if (aborted || completed || !channel.isActive() || requestBody.ended() || requestBody.failed()) {
            bodyWatch.cancel(false);
            return;
        }
        if (bodyBytes != bodyWatchedBytes) {
            bodyWatchedBytes = bodyBytes;
            bodyStalledNanos = 0;
        }
        if (!wantsMore()) {
            return; // the service is behind: the client waits for us
        }
        bodyReadingNanos += tick;
        bodyStalledNanos += tick;
        if (bodyStalledNanos >= timeoutNanos) {
            bodyTimedOut(TimeoutReason.BODY, "no request body byte for " + seconds(timeoutNanos));
        } else if (minRate > 0 && bodyReadingNanos >= timeoutNanos
                && bodyBytes < minRate * (double) bodyReadingNanos / 1e9) {
            bodyTimedOut(TimeoutReason.BODY_RATE, "request body at " + bodyBytes + " bytes in "
                    + seconds(bodyReadingNanos) + ", below the minimum of " + minRate + " bytes/s");
        }
    }

    private void bodyTimedOut(TimeoutReason reason, String why) {
        bodyWatch.cancel(false);
        requestBody.fail(new IOException("request body: " + why + " (client too slow)"));
        timedOut(reason, why);
    }

    private static String seconds(long nanos) {
        return String.format(Locale.ROOT, "%.1fs", nanos / 1e9);
    }

    /** Drops the client for {@code reason} (once): counts it, then {@link #doTimeout}. On the event loop. */
    public final void timedOut(TimeoutReason reason, String why) {
        if (aborted || !channel.isActive()) {
            return;
        }
        aborted = true;
        failure = "client too slow: " + why;
        if (writeFailure == null) {
            writeFailure = new IOException("client too slow: " + why);
        }
        dispatcher.metrics().timeout(httpProtocol(), reason);
        log.debug("dropping {} client {} during {} {}: {}", connection.protocol(), connection.remote(), method, path,
                why);
        doTimeout(reason);
        writabilityChanged();
        if (!blocking) {
            responseEnded = true;
            deliverBody();
            completeService();
        }
    }

    /** Runs {@link #doAbort} unless the stream was already reset. On the event loop. */
    private void abortStream() {
        if (!aborted) {
            aborted = true;
            doAbort();
        }
    }

    /** Whether the request body has had no byte for the body timeout (a handler's read timed out on it). */
    private boolean requestBodyStalled() {
        return bodyWatched && !requestBody.ended()
                && System.nanoTime() - lastBodyNanos >= dispatcher.bodyTimeout().toNanos();
    }

    /** Runs a blocking handler; called on a virtual thread by the dispatcher. */
    final void run(Handler handler) {
        Throwable failure = null;
        try {
            handler.handle(this, response);
        } catch (Throwable t) {
            failure = t;
        }
        try {
            if (failure == null) {
                responseBody.finish();
            } else {
                fail(failure);
            }
        } catch (Throwable t) {
            fail(t);
        } finally {
            requestBody.discard();
            post(this::complete);
        }
    }

    /** Runs {@link #doComplete} once; the exchange is counted when its response has left. On the event loop. */
    private void complete() {
        if (!completed) {
            completed = true;
            Runnable task = writableTask;
            writableTask = null;
            if (task != null) {
                callback(task); // it learns that the exchange is over (isOpen() is false) and lets go of what it holds
            }
            receiver = null;
            requestBody.discard();
            if (encoder != null) {
                encoder.discard(); // whatever an aborted response left in it
            }
            doComplete(() -> dispatcher.finished(this));
        }
    }

    /**
     * An event-loop service is done with the exchange: complete it after the current read, so that the end of the
     * request (the FIN of an HTTP/3 stream, HTTP/1.1's last content), usually in the same read as the head, is seen
     * first and a bodiless request is not answered with STOP_SENDING or a closed connection.
     */
    private void completeService() {
        if (!completed) {
            channel.eventLoop().execute(this::complete);
        }
    }

    /** Starts {@code service} on this exchange; called on the event loop by the dispatcher. */
    final void serve(Service service) {
        try {
            service.serve(this);
        } catch (Throwable t) {
            serviceFailed(t);
        }
    }

    /** A service (or one of its callbacks) threw: 500 before the response is committed, a reset after. */
    private void serviceFailed(Throwable failure) {
        this.failure = failure.toString();
        if (blocking) {
            log.warn("service failed for {} {} after handing it to a handler: {}", method, path, failure.toString(),
                    failure);
            return;
        }
        if (responseEnded || completed) {
            log.warn("service failed for {} {} after the response ended: {}", method, path, failure.toString(),
                    failure);
        } else if (failure instanceof IOException && !isOpen()) {
            log.debug("client went away during {} {}: {}", method, path, failure.toString());
            abort();
        } else if (!committed) {
            log.warn("service failed for {} {}: {}", method, path, failure.toString(), failure);
            respond(500, "text/plain; charset=utf-8", "internal server error\n");
        } else {
            log.warn("service failed after the response was committed for {} {}: {}; resetting the stream",
                    method, path, failure.toString(), failure);
            abort();
        }
    }

    /** Runs a service callback, turning what it throws into {@link #serviceFailed}. */
    private void callback(Runnable task) {
        try {
            task.run();
        } catch (Throwable t) {
            serviceFailed(t);
        }
    }

    /** The adapter's read completed: clear the pending flag and read again if the body wants more. */
    public final void readComplete() {
        readRequested.set(false);
        if (wantsMore()) {
            requestRead();
        }
    }

    /** Asks the channel for more request bytes unless a read is already pending. Thread-safe. */
    public final void requestRead() {
        if (wantsMore() && readRequested.compareAndSet(false, true)) {
            channel.read();
        }
    }

    /**
     * Whether to read more request body from the network: up to {@link RequestBody#HIGH_WATER} queued for a handler
     * (or for a service that has not asked yet), while a service's receiver asks for more.
     */
    private boolean wantsMore() {
        BodyReceiver r = receiver;
        return r == null ? requestBody.wantsMore() : demanded && !requestBody.ended() && !requestBody.failed();
    }

    /** The request body ended, with {@code trailers} ({@code null}: none). On the event loop. */
    public final void endBody(Headers trailers) {
        requestBody.end(trailers);
        deliverBody();
    }

    /** The channel's writability changed or it closed: wake a writer waiting for room. */
    public final void writabilityChanged() {
        Runnable task = writableTask;
        if (task != null && (!isOpen() || roomToWrite())) {
            writableTask = null;
            callback(task);
        }
        if (writerWaiting) {
            writeLock.lock();
            try {
                writeChanged.signalAll();
            } finally {
                writeLock.unlock();
            }
        }
    }

    /** The stream or connection is gone: fail the request body, wake the writer. */
    public final void closed(IOException cause) {
        requestBody.fail(cause);
        if (writeFailure == null) {
            writeFailure = cause;
        }
        deliverBody();
        writabilityChanged();
        if (!blocking) {
            responseEnded = true;
            completeService();
        }
    }

    // ---- Request ----

    @Override
    public String method() {
        return method;
    }

    @Override
    public String target() {
        return target;
    }

    @Override
    public String path() {
        return path;
    }

    @Override
    public String query() {
        return query;
    }

    @Override
    public String queryParam(String name) {
        return queryParam(query, name);
    }

    @Override
    public String routePath() {
        return routePath;
    }

    @Override
    public void routePath(String rest) {
        this.routePath = rest;
    }

    @Override
    public String authority() {
        return authority;
    }

    @Override
    public String host() {
        return hostOf(authority);
    }

    @Override
    public String scheme() {
        return "https";
    }

    @Override
    public Headers headers() {
        return requestHeaders;
    }

    @Override
    public long contentLength() {
        return contentLength;
    }

    @Override
    public InputStream body() {
        return requestBody;
    }

    @Override
    public Headers trailers() {
        return requestBody.trailers();
    }

    @Override
    public ConnectionInfo connection() {
        return connection;
    }

    // ---- HttpExchange: the event-loop service's side ----

    @Override
    public EventLoop eventLoop() {
        return channel.eventLoop();
    }

    @Override
    public ByteBufAllocator alloc() {
        return channel.alloc();
    }

    @Override
    public void receiveBody(BodyReceiver bodyReceiver) {
        if (receiver != null || receiverDone || blocking) {
            throw new IllegalStateException("receiveBody: the request body is already being received");
        }
        receiver = bodyReceiver;
    }

    @Override
    public void demand() {
        if (receiver == null) {
            throw new IllegalStateException("demand: call receiveBody first");
        }
        demanded = true;
        deliverBody();
    }

    /** Passes queued body bytes, then the end or the failure, to the receiver while it asks. On the event loop. */
    private void deliverBody() {
        BodyReceiver r = receiver;
        if (r == null || receiverDone) {
            return;
        }
        // A receiver that demands again inside onData re-enters this method, which may deliver the end: the loop
        // below must then stop, or the end would be delivered twice.
        while (demanded && !receiverDone) {
            ByteBuf data = requestBody.poll();
            if (data != null) {
                demanded = false;
                callback(() -> r.onData(data));
                continue;
            }
            if (requestBody.ended()) {
                receiverDone = true;
                demanded = false;
                callback(() -> r.onEnd(requestBody.trailers()));
                return;
            }
            IOException failure = requestBody.failure();
            if (failure != null) {
                receiverDone = true;
                demanded = false;
                callback(() -> r.onError(failure));
                return;
            }
            break;
        }
        if (demanded) {
            requestRead();
        }
    }

    @Override
    public void respond(int code, Headers headers, ByteBuf body) {
        if (!startResponse("respond", code, headers)) {
            body.release();
            return;
        }
        int length = body.readableBytes();
        if (!noBodyStatus(code)) {
            responseHeaders.set("content-length", Integer.toString(length));
        }
        if (head || length == 0 || noBodyStatus(code)) {
            body.release();
            responseEnded = true;
            commit(true);
            completeService();
            return;
        }
        commit(false);
        write(body, true);
    }

    @Override
    public boolean draining() {
        return dispatcher.draining();
    }

    @Override
    public String upgradeProtocol() {
        return upgradeProtocol;
    }

    @Override
    public void acceptUpgrade(Headers headers) {
        if (upgradeProtocol == null) {
            throw new IllegalStateException("acceptUpgrade: the request asks for no protocol switch");
        }
        if (!startResponse("acceptUpgrade", 200, headers)) {
            return;
        }
        upgraded = true;
        status = upgradeStatus();
        commit(false);
        channel.flush();
    }

    @Override
    public void head(int code, Headers headers) {
        if (!startResponse("head", code, headers)) {
            return;
        }
        if (head || noBodyStatus(code)) {
            responseEnded = true;
            commit(true);
            completeService();
        } else {
            commit(false);
        }
    }

    @Override
    public void flush() {
        if (committed && isOpen()) {
            channel.flush();
        }
    }

    /** Takes status and headers for a response not yet committed; {@code false} when nothing may be sent. */
    private boolean startResponse(String what, int code, Headers headers) {
        if (committed || blocking) {
            throw new IllegalStateException(what + ": the response is already " + (blocking ? "a handler's"
                    : "committed"));
        }
        if (code < 200 || code > 999) {
            throw new IllegalArgumentException(what + ": status " + code + " (expected: 200..999)");
        }
        if (!isOpen()) {
            return false;
        }
        status = code;
        responseHeaders = headers.isReadOnly() ? Headers.copyOf(headers) : headers;
        return true;
    }

    @Override
    public void write(ByteBuf data, boolean endStream) {
        if (!isOpen()) {
            data.release();
            return;
        }
        if (!committed) {
            commit(false);
        }
        if (head) {
            data.release();
            if (endStream) {
                end(null);
            }
            return;
        }
        bodyBytesSent += data.readableBytes();
        writeData(data, endStream).addListener(writeListener);
        if (endStream) {
            responseEnded = true;
            completeService();
        }
    }

    @Override
    public void end(Headers trailers) {
        if (!isOpen()) {
            return;
        }
        responseEnded = true;
        Headers ending = trailers == null ? new Headers() : trailers;
        if (!committed) {
            if (ending.isEmpty() && !noBodyStatus(status) && !responseHeaders.contains("content-length")) {
                responseHeaders.set("content-length", "0");
            }
            if (ending.isEmpty() || head) {
                commit(true);
                completeService();
                return;
            }
            commit(false);
        }
        if (head) {
            // The head went out with the end of the stream.
            completeService();
            return;
        }
        responseTrailers = ending.asReadOnly();
        writeEnd(responseTrailers).addListener(writeListener);
        completeService();
    }

    @Override
    public boolean isWritable() {
        return isOpen() && roomToWrite();
    }

    /** The channel is writable and not too much of what was written waits inside it. */
    private boolean roomToWrite() {
        return channel.isWritable() && unfinishedBytes <= MAX_UNFINISHED;
    }

    @Override
    public void onWritable(Runnable task) {
        writableTask = task;
        if (!isOpen() || roomToWrite()) {
            channel.eventLoop().execute(this::writabilityChanged);
            return;
        }
        // A client that does not read for the body timeout is dropped, as a blocking handler's write would be. One
        // timer per exchange at a time, not one per wait: a fast download waits thousands of times a second.
        waitingSinceNanos = System.nanoTime();
        if (!sendWatched) {
            sendWatched = true;
            channel.eventLoop().schedule(this::checkSend, dispatcher.bodyTimeout().toNanos(), TimeUnit.NANOSECONDS);
        }
    }

    private void checkSend() {
        sendWatched = false;
        if (writableTask == null || !isOpen()) {
            return;
        }
        long timeout = dispatcher.bodyTimeout().toNanos();
        long waited = System.nanoTime() - waitingSinceNanos;
        if (waited >= timeout) {
            timedOut(TimeoutReason.SEND, "the client did not read the response for " + seconds(timeout));
        } else {
            sendWatched = true;
            channel.eventLoop().schedule(this::checkSend, timeout - waited, TimeUnit.NANOSECONDS);
        }
    }

    @Override
    public boolean isOpen() {
        return !responseEnded && !aborted && !completed && writeFailure == null && channel.isActive();
    }

    @Override
    public boolean committed() {
        return committed;
    }

    @Override
    public void abort() {
        if (!responseEnded && !completed) {
            responseEnded = true;
            abortStream();
            completeService();
        }
    }

    @Override
    public void logUpstream(String address) {
        upstream = address;
    }

    @Override
    public void logFailure(String reason) {
        failure = reason;
    }

    @Override
    public void runBlocking(Handler handler) {
        if (blocking || committed || receiver != null) {
            throw new IllegalStateException("runBlocking: the exchange is already being served");
        }
        blocking = true;
        try {
            dispatcher.runBlocking(this, handler);
        } catch (RuntimeException e) {
            blocking = false; // not started (the worker is stopping): the service's failure answers
            throw e;
        }
    }

    /** The response side of this exchange, handed to the handler next to the request. */
    final Response response() {
        return response;
    }

    private final Response response = new Response() {
        @Override
        public Response status(int code) {
            if (committed) {
                throw new IllegalStateException("status: response already committed");
            }
            if (code < 200 || code > 999) {
                throw new IllegalArgumentException("status: " + code + " (expected: 200..999)");
            }
            status = code;
            return this;
        }

        @Override
        public int status() {
            return status;
        }

        @Override
        public Headers headers() {
            return responseHeaders;
        }

        @Override
        public Headers trailers() {
            return responseTrailers;
        }

        @Override
        public OutputStream body() {
            return responseBody;
        }

        @Override
        public boolean committed() {
            return committed;
        }

        @Override
        public void send(int code, String contentType, byte[] body) throws IOException {
            status(code);
            if (contentType != null) {
                responseHeaders.set("content-type", contentType);
            }
            responseHeaders.set("content-length", Integer.toString(body.length));
            responseBody.write(body, 0, body.length);
            responseBody.finish();
        }

        @Override
        public String toString() {
            return "Response[" + status + (committed ? ", committed" : "") + "]";
        }
    };

    // ---- internals ----

    private void fail(Throwable failure) {
        this.failure = failure.toString();
        if (failure instanceof IOException && requestBodyStalled()) {
            // The handler's read gave up on a stalled body before the body watch did: the same slow client.
            post(() -> timedOut(TimeoutReason.BODY, "no request body byte for "
                    + seconds(dispatcher.bodyTimeout().toNanos())));
        }
        boolean clientGone = failure instanceof IOException
                && (writeFailure != null || requestBody.failed() || !channel.isActive() || requestBodyStalled());
        if (clientGone) {
            // Not the handler's fault and nothing to answer: one DEBUG line, no stack, no 500.
            log.debug("client went away during {} {}: {}", method, path, failure.toString());
            if (!finished) {
                finished = true;
                responseBody.discardBuffered();
                post(this::abortStream);
            }
        } else if (!committed) {
            log.warn("handler failed for {} {}: {}", method, path, failure.toString(), failure);
            responseBody.discardBuffered();
            responseHeaders = new Headers();
            responseTrailers = new Headers();
            status = 500;
            byte[] text = "internal server error\n".getBytes(StandardCharsets.US_ASCII);
            responseHeaders.set("content-type", "text/plain; charset=utf-8");
            responseHeaders.set("content-length", Integer.toString(text.length));
            try {
                responseBody.write(text, 0, text.length);
                responseBody.finish();
            } catch (IOException e) {
                post(this::abortStream);
            }
        } else if (!finished) {
            log.warn("handler failed after the response was committed for {} {}: {}; resetting the stream",
                    method, path, failure.toString(), failure);
            finished = true;
            responseBody.discardBuffered();
            post(this::abortStream);
        }
    }

    final void post(Runnable task) {
        EventLoop loop = channel.eventLoop();
        if (loop.inEventLoop()) {
            task.run();
        } else {
            loop.execute(task);
        }
    }

    private void commit(boolean endStream) {
        Headers headers = responseHeaders;
        Compression compression = dispatcher.compression();
        if (compression != null && !upgraded && compression.eligible(status, headers)) {
            Compression.vary(headers);
            // A HEAD response says what a GET would get; an empty body is never encoded
            ContentCoding coding = endStream && !head ? null : compression.choose(requestHeaders.get("accept-encoding"));
            if (coding != null) {
                Compression.apply(headers, coding);
                if (!head) {
                    encoder = compression.encoder(coding, channel.alloc());
                }
            }
        }
        decorateHeaders(headers);
        headers.set("date", HttpDates.now());
        responseHeaders = headers.asReadOnly();
        if (endStream) {
            responseTrailers = responseTrailers.asReadOnly();
        }
        committed = true;
        int code = status;
        Headers sent = responseHeaders;
        post(() -> doWriteHead(code, sent, endStream));
    }

    /** Writes {@code data} (owned) to the event loop, then waits while too much is queued. */
    private void send(ByteBuf data, boolean endStream) throws IOException {
        int size = data.readableBytes();
        bodyBytesSent += size;
        queuedBytes.addAndGet(size);
        post(() -> {
            ChannelFuture future = writeData(data, endStream);
            queuedBytes.addAndGet(-size);
            future.addListener(writeListener);
            writabilityChanged();
        });
        if (!endStream) {
            awaitWritable();
        }
    }

    /** Body bytes to the protocol, through the encoder when the response is compressed. On the event loop. */
    private ChannelFuture writeData(ByteBuf data, boolean endStream) {
        ResponseEncoder coder = encoder;
        if (coder == null) {
            return counted(data, endStream);
        }
        ByteBuf encoded = coder.encode(data, endStream);
        if (!encoded.isReadable() && !endStream) {
            encoded.release(); // the encoder holds it for now: no empty DATA frame
            return channel.newSucceededFuture();
        }
        return counted(encoded, endStream);
    }

    /** {@link #doWriteData}, counting the bytes as unfinished until the write completes. On the event loop. */
    private ChannelFuture counted(ByteBuf data, boolean endStream) {
        int size = data.readableBytes();
        ChannelFuture future = doWriteData(data, endStream);
        if (size > 0 && !future.isDone()) {
            unfinishedBytes += size;
            future.addListener(f -> {
                long before = unfinishedBytes;
                unfinishedBytes = before - size;
                if (before > MAX_UNFINISHED && before - size <= MAX_UNFINISHED) {
                    writabilityChanged();
                }
            });
        }
        return future;
    }

    /** Ends the response with {@code trailers}, after the encoder's last bytes. On the event loop. */
    private ChannelFuture writeEnd(Headers trailers) {
        ResponseEncoder coder = encoder;
        if (coder != null) {
            ByteBuf tail = coder.finish();
            if (tail.isReadable()) {
                doWriteData(tail, false).addListener(writeListener);
            } else {
                tail.release();
            }
        }
        return doWriteEnd(trailers);
    }

    private final ChannelFutureListener writeListener = future -> {
        if (!future.isSuccess() && writeFailure == null) {
            writeFailure = future.cause();
            writabilityChanged();
        }
    };

    final void awaitWritable() throws IOException {
        if (queuedBytes.get() <= MAX_QUEUED && roomToWrite() && writeFailure == null) {
            return;
        }
        writeLock.lock();
        try {
            writerWaiting = true;
            long deadline = System.nanoTime() + dispatcher.bodyTimeout().toNanos();
            while (writeFailure == null && channel.isActive()
                    && (queuedBytes.get() > MAX_QUEUED || !roomToWrite())) {
                long remaining = deadline - System.nanoTime();
                if (remaining <= 0) {
                    String why = "the client did not read the response for "
                            + seconds(dispatcher.bodyTimeout().toNanos());
                    IOException timeout = new IOException("response body: " + why);
                    // Set before the reset is posted: finish() must not queue the rest of the body behind it.
                    writeFailure = timeout;
                    post(() -> timedOut(TimeoutReason.SEND, why));
                    throw timeout;
                }
                try {
                    // The timed wait is a safety net only; writabilityChanged() signals every change.
                    writeChanged.await(Math.min(remaining, TimeUnit.MILLISECONDS.toNanos(200)),
                            TimeUnit.NANOSECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new InterruptedIOException("interrupted while writing the response");
                }
            }
        } finally {
            writerWaiting = false;
            writeLock.unlock();
        }
        checkWritable();
    }

    private void checkWritable() throws IOException {
        if (writeFailure != null) {
            throw new IOException("response body: client went away (" + writeFailure.getMessage() + ")",
                    writeFailure);
        }
        if (!channel.isActive()) {
            throw new IOException("response body: stream closed by the client");
        }
    }

    /** The response body stream; see {@link Response#body()}. */
    private final class ResponseBody extends OutputStream {

        private ByteBuf buffer;
        private long written;

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            Objects.checkFromIndexSize(off, len, b.length);
            if (finished) {
                throw new IOException("response body: already closed");
            }
            if (writeFailure != null) {
                checkWritable();
            }
            written += len;
            if (head) {
                return;
            }
            while (len > 0) {
                if (buffer != null && !buffer.isWritable()) {
                    // A full chunk goes out only once more bytes follow: the last chunk is sent by finish(),
                    // together with the end of the stream.
                    sendBuffer(false);
                }
                if (buffer == null) {
                    buffer = channel.alloc().directBuffer(CHUNK, CHUNK);
                }
                int n = Math.min(len, buffer.writableBytes());
                buffer.writeBytes(b, off, n);
                off += n;
                len -= n;
            }
        }

        @Override
        public void flush() throws IOException {
            if (finished) {
                return;
            }
            if (!committed) {
                commit(false);
            }
            if (buffer != null && buffer.isReadable()) {
                sendBuffer(false);
            }
            post(channel::flush);
        }

        @Override
        public void close() throws IOException {
            finish();
        }

        private void sendBuffer(boolean endStream) throws IOException {
            if (!committed) {
                commit(false);
            }
            ByteBuf data = buffer;
            buffer = null;
            send(data, endStream);
        }

        /** Ends the response: commit with an exact length if still possible, send the rest, then trailers. */
        void finish() throws IOException {
            if (finished) {
                return;
            }
            if (writeFailure != null) {
                // The client is gone or was dropped: nothing more goes out, and the caller learns it.
                checkWritable();
            }
            boolean hasTrailers = !responseTrailers.isEmpty();
            if (!committed) {
                // With trailers, leave the length out: HTTP/1.1 can carry trailers only in a chunked body.
                if (!hasTrailers && !responseHeaders.contains("content-length") && !noBodyStatus(status)) {
                    responseHeaders.set("content-length", Long.toString(written));
                }
                boolean bodyLeft = buffer != null && buffer.isReadable();
                if (!bodyLeft && !hasTrailers) {
                    finished = true;
                    releaseBuffer();
                    commit(true);
                    return;
                }
                commit(false);
            }
            finished = true;
            if (buffer != null && buffer.isReadable()) {
                ByteBuf data = buffer;
                buffer = null;
                send(data, !hasTrailers);
                if (!hasTrailers) {
                    return;
                }
            }
            releaseBuffer();
            Headers trailers = responseTrailers.asReadOnly();
            responseTrailers = trailers;
            post(() -> writeEnd(trailers).addListener(writeListener));
        }

        void discardBuffered() {
            releaseBuffer();
            written = 0;
        }

        private void releaseBuffer() {
            if (buffer != null) {
                buffer.release();
                buffer = null;
            }
        }
    }

    /**
     * Counts this exchange (protocol, status, time from request headers to the response leaving, body bytes) and
     * writes its access log line when there is a log. An exchange that never sent a response head is logged with
     * nginx's 499 and the failure, if one is known.
     */
    final void record(WorkerMetrics metrics, AccessLog accessLog) {
        long duration = System.nanoTime() - startNanos;
        long sent = bodyBytesSent;
        if (encoder != null) {
            sent = encoder.bytesOut();
            metrics.compressed(encoder.coding().token(), encoder.bytesIn(), sent);
        }
        metrics.request(httpProtocol(), status, duration, sent);
        if (accessLog != null) {
            accessLog.log(this, new AccessLogFormat.Outcome(committed ? status : 499, bodyBytes, sent,
                    duration, accessLog.slot(), upstream, failure));
        }
    }

    private HttpProtocol httpProtocol() {
        return switch (connection.protocol()) {
            case H3 -> HttpProtocol.H3;
            case H2 -> HttpProtocol.H2;
            case HTTP_1_1 -> HttpProtocol.HTTP_1_1;
        };
    }

    // ---- helpers ----

    protected static boolean noBodyStatus(int status) {
        return status == 204 || status == 304 || (status >= 100 && status < 200);
    }

    static long parseContentLength(String value) {
        if (value == null) {
            return -1;
        }
        try {
            long n = Long.parseLong(value.trim());
            return n < 0 ? -1 : n;
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    static String hostOf(String authority) {
        if (authority == null || authority.isEmpty()) {
            return "";
        }
        String host;
        if (authority.startsWith("[")) {
            int end = authority.indexOf(']');
            host = end < 0 ? authority : authority.substring(1, end);
        } else {
            int colon = authority.lastIndexOf(':');
            host = colon < 0 ? authority : authority.substring(0, colon);
        }
        return host.toLowerCase(Locale.ROOT);
    }

    static String queryParam(String query, String name) {
        if (query.isEmpty()) {
            return null;
        }
        int start = 0;
        while (start <= query.length()) {
            int amp = query.indexOf('&', start);
            int end = amp < 0 ? query.length() : amp;
            int eq = query.indexOf('=', start);
            String key = eq < 0 || eq > end ? query.substring(start, end) : query.substring(start, eq);
            try {
                if (URLDecoder.decode(key, StandardCharsets.UTF_8).equals(name)) {
                    return eq < 0 || eq > end ? "" : URLDecoder.decode(query.substring(eq + 1, end),
                            StandardCharsets.UTF_8);
                }
            } catch (IllegalArgumentException malformed) {
                // a malformed escape in one parameter does not hide the others
            }
            if (amp < 0) {
                break;
            }
            start = amp + 1;
        }
        return null;
    }
}
