package dev.quicfleet.http.websocket;

import dev.quicfleet.http.BodyReceiver;
import dev.quicfleet.http.Headers;
import dev.quicfleet.http.HttpExchange;
import dev.quicfleet.http.RequestHead;
import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoop;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One accepted WebSocket session: frames in and out of an upgraded {@link HttpExchange} on its event loop, and the
 * {@link WebSocketSession} its handler uses on a virtual thread.
 *
 * <p>Threads: everything named {@code on*}, the timer and the frame handling run on the exchange's event loop; the
 * handler thread touches only the inbox and outbox counters, under {@link #lock}, and posts its writes to the loop.
 *
 * <p>Backpressure: the loop asks the exchange for more bytes ({@link HttpExchange#demand()}) only while fewer than
 * {@link #MAX_INBOX} bytes of messages wait for the handler; {@link #receive()} resumes it. {@link #send} waits while
 * {@link #MAX_OUTBOX} bytes are posted and not yet written, or while the exchange is not writable.
 */
final class WebSocketConnection implements WebSocketSession, BodyReceiver {

    private static final Logger log = LoggerFactory.getLogger(WebSocketConnection.class);
    /** How long a close we sent waits for the client's close before the stream or connection is ended anyway. */
    private static final long CLOSE_WAIT_MILLIS = 5_000;
    /** How soon a session notices that the worker drains, and closes with 1001. */
    private static final long DRAIN_CHECK_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final HttpExchange exchange;
    private final WebSocketLimits limits;
    private final WebSocketHandler handler;
    private final EventLoop loop;

    // ---- event loop only ----
    private ByteBuf cumulation;
    private int messageOpcode = -1;
    private byte[] message = new byte[0];
    private int messageLength;
    private boolean closeSent;
    private boolean ended;
    private long lastReceivedNanos = System.nanoTime();
    private long lastPingNanos;
    private ScheduledFuture<?> timer;

    // ---- shared, under lock ----
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final ArrayDeque<WebSocketMessage> inbox = new ArrayDeque<>();
    private long inboxBytes;
    private boolean inboxEnded;
    /** The loop stopped demanding because the inbox was full; {@link #receive()} resumes it. */
    private boolean paused;
    private long queuedOut;
    private boolean writable = true;
    private boolean outClosed;
    private volatile int closeCode;
    private volatile String closeReason = "";

    WebSocketConnection(HttpExchange exchange, WebSocketLimits limits, WebSocketHandler handler) {
        this.exchange = exchange;
        this.limits = limits;
        this.handler = handler;
        this.loop = exchange.eventLoop();
    }

    /** On the event loop, right after the exchange accepted the upgrade. */
    void start() {
        exchange.receiveBody(this);
        exchange.demand();
        long tick = tickNanos();
        timer = loop.scheduleAtFixedRate(this::tick, tick, tick, TimeUnit.NANOSECONDS);
        Thread.ofVirtual().name("websocket " + exchange.path()).start(this::run);
    }

    /** A quarter of the shortest timeout, at most {@link #DRAIN_CHECK_NANOS} (the drain is noticed within it). */
    private long tickNanos() {
        long idle = limits.idleTimeout().toNanos();
        long ping = limits.pingInterval().toNanos();
        long shortest = idle == 0 ? ping : ping == 0 ? idle : Math.min(idle, ping);
        return shortest == 0 ? DRAIN_CHECK_NANOS
                : Math.clamp(shortest / 4, TimeUnit.MILLISECONDS.toNanos(10), DRAIN_CHECK_NANOS);
    }

    private void run() {
        try {
            handler.handle(this);
            close(NORMAL_CLOSURE, "");
        } catch (Throwable t) {
            if (t instanceof IOException && closeCode != 0) {
                log.debug("WebSocket handler for {} ended by a closed session: {}", exchange.path(), t.toString());
                close(NORMAL_CLOSURE, "");
            } else {
                log.warn("WebSocket handler for {} failed: {}", exchange.path(), t.toString(), t);
                close(INTERNAL_ERROR, "internal error");
            }
        }
    }

    // ---- inbound, on the event loop ----

    @Override
    public void onData(ByteBuf data) {
        if (ended) {
            data.release();
            return;
        }
        if (cumulation == null) {
            cumulation = exchange.alloc().heapBuffer(data.readableBytes());
        }
        cumulation.writeBytes(data);
        data.release();
        try {
            WebSocketFrames.Frame frame;
            while (!ended && (frame = WebSocketFrames.decode(cumulation, true, limits.maxFrameSize())) != null) {
                lastReceivedNanos = System.nanoTime();
                onFrame(frame);
            }
        } catch (WebSocketFrames.FrameException e) {
            fail(e.closeCode(), e.getMessage());
        }
        if (ended) {
            return;
        }
        if (!cumulation.isReadable()) {
            cumulation.release();
            cumulation = null;
        } else {
            cumulation.discardSomeReadBytes();
        }
        boolean more;
        lock.lock();
        try {
            more = inboxBytes < MAX_INBOX;
            paused = !more;
        } finally {
            lock.unlock();
        }
        if (more) {
            exchange.demand();
        }
    }

    private void onFrame(WebSocketFrames.Frame frame) {
        switch (frame.opcode()) {
            case WebSocketFrames.TEXT, WebSocketFrames.BINARY -> {
                if (messageOpcode != -1) {
                    fail(PROTOCOL_ERROR, "a new message before the previous one ended");
                    return;
                }
                messageOpcode = frame.opcode();
                append(frame);
            }
            case WebSocketFrames.CONTINUATION -> {
                if (messageOpcode == -1) {
                    fail(PROTOCOL_ERROR, "a continuation frame without a message");
                    return;
                }
                append(frame);
            }
            case WebSocketFrames.PING -> {
                if (!closeSent) {
                    writeFrame(WebSocketFrames.PONG, frame.payload());
                }
            }
            case WebSocketFrames.PONG -> {
                // lastReceivedNanos is all a pong is for
            }
            case WebSocketFrames.CLOSE -> onClose(frame.payload());
            default -> fail(PROTOCOL_ERROR, "unexpected opcode " + frame.opcode());
        }
    }

    private void append(WebSocketFrames.Frame frame) {
        byte[] payload = frame.payload();
        if ((long) messageLength + payload.length > limits.maxMessageSize()) {
            fail(MESSAGE_TOO_BIG, "message over " + limits.maxMessageSize() + " bytes");
            return;
        }
        if (messageLength + payload.length > message.length) {
            message = Arrays.copyOf(message, Math.max(messageLength + payload.length, message.length * 2));
        }
        System.arraycopy(payload, 0, message, messageLength, payload.length);
        messageLength += payload.length;
        if (!frame.fin()) {
            return;
        }
        byte[] data = Arrays.copyOf(message, messageLength);
        boolean text = messageOpcode == WebSocketFrames.TEXT;
        messageOpcode = -1;
        messageLength = 0;
        if (message.length > 64 * 1024) {
            message = new byte[0]; // do not keep a large message's buffer for the rest of the session
        }
        if (text && !validUtf8(data)) {
            fail(INVALID_PAYLOAD, "text message is not valid UTF-8");
            return;
        }
        lock.lock();
        try {
            inbox.add(new WebSocketMessage(text, data));
            inboxBytes += data.length;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void onClose(byte[] payload) {
        int code;
        String reason = "";
        if (payload.length == 0) {
            code = NO_STATUS;
        } else if (payload.length == 1) {
            fail(PROTOCOL_ERROR, "close frame with a 1-byte payload");
            return;
        } else {
            code = ((payload[0] & 0xFF) << 8) | (payload[1] & 0xFF);
            if (!validCloseCode(code)) {
                fail(PROTOCOL_ERROR, "close code " + code + " may not be sent");
                return;
            }
            byte[] text = Arrays.copyOfRange(payload, 2, payload.length);
            if (!validUtf8(text)) {
                fail(INVALID_PAYLOAD, "close reason is not valid UTF-8");
                return;
            }
            reason = new String(text, StandardCharsets.UTF_8);
        }
        closedWith(code, reason);
        // echo the client's code (RFC 6455 §5.5.1), then end: nothing more is read or written
        sendClose(code == NO_STATUS ? NORMAL_CLOSURE : code, "");
        finish();
    }

    @Override
    public void onEnd(Headers trailers) {
        // the client ended its stream (HTTP/2, HTTP/3) without a close frame
        closedWith(ABNORMAL_CLOSURE, "stream ended without a close frame");
        finish();
    }

    @Override
    public void onError(Throwable cause) {
        closedWith(ABNORMAL_CLOSURE, String.valueOf(cause.getMessage()));
        finish();
    }

    private void tick() {
        if (ended) {
            return;
        }
        if (!closeSent && exchange.draining()) {
            closeFromServer(GOING_AWAY, "server going away");
            return;
        }
        long now = System.nanoTime();
        long silent = now - lastReceivedNanos;
        long idle = limits.idleTimeout().toNanos();
        long ping = limits.pingInterval().toNanos();
        if (idle > 0 && silent >= idle && !closeSent) {
            closeFromServer(GOING_AWAY, "idle timeout");
        } else if (ping > 0 && silent >= ping && now - lastPingNanos >= ping && !closeSent) {
            lastPingNanos = now;
            writeFrame(WebSocketFrames.PING, new byte[0]);
        }
    }

    // ---- closing, on the event loop ----

    /** A protocol error or a limit: close with {@code code} and end at once (RFC 6455 §7.1.7). */
    private void fail(int code, String why) {
        log.debug("closing WebSocket {} with {}: {}", exchange.path(), code, why);
        closedWith(code, why);
        sendClose(code, why);
        finish();
    }

    /** A close the server starts (handler, idle timeout): send it and wait a while for the client's. */
    private void closeFromServer(int code, String reason) {
        if (closeSent || ended) {
            return;
        }
        closedWith(code, reason);
        sendClose(code, reason);
        endInbox();
        loop.schedule(this::finish, CLOSE_WAIT_MILLIS, TimeUnit.MILLISECONDS);
    }

    private void closedWith(int code, String reason) {
        if (closeCode == 0) {
            closeReason = reason;
            closeCode = code;
        }
    }

    private void sendClose(int code, String reason) {
        if (closeSent) {
            return;
        }
        writeFrame(WebSocketFrames.CLOSE, WebSocketFrames.closePayload(code, reason));
        closeSent = true;
        lock.lock();
        try {
            outClosed = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void writeFrame(int opcode, byte[] payload) {
        if (exchange.isOpen()) {
            exchange.write(WebSocketFrames.encode(exchange.alloc(), true, opcode, payload, 0, payload.length, false),
                    false);
        }
    }

    /** Ends the exchange (HTTP/2, HTTP/3: the end of the stream; HTTP/1.1: the connection closes). */
    private void finish() {
        if (ended) {
            return;
        }
        ended = true;
        if (timer != null) {
            timer.cancel(false);
        }
        if (cumulation != null) {
            cumulation.release();
            cumulation = null;
        }
        closedWith(ABNORMAL_CLOSURE, "");
        if (exchange.isOpen()) {
            exchange.end();
        }
        endInbox();
        lock.lock();
        try {
            outClosed = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void endInbox() {
        lock.lock();
        try {
            inboxEnded = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    // ---- WebSocketSession, on the handler's thread ----

    @Override
    public RequestHead request() {
        return exchange;
    }

    @Override
    public WebSocketMessage receive() throws InterruptedException {
        WebSocketMessage next;
        boolean resume = false;
        lock.lock();
        try {
            while (inbox.isEmpty() && !inboxEnded) {
                changed.await();
            }
            next = inbox.poll();
            if (next != null) {
                inboxBytes -= next.data().length;
                if (paused && inboxBytes < MAX_INBOX) {
                    paused = false;
                    resume = true;
                }
            }
        } finally {
            lock.unlock();
        }
        if (resume) {
            loop.execute(() -> {
                if (!ended) {
                    exchange.demand();
                }
            });
        }
        return next;
    }

    @Override
    public void send(WebSocketMessage message) throws IOException, InterruptedException {
        byte[] data = message.data();
        ByteBuf frame = WebSocketFrames.encode(exchange.alloc(), true,
                message.text() ? WebSocketFrames.TEXT : WebSocketFrames.BINARY, data, 0, data.length, false);
        int size = frame.readableBytes();
        lock.lock();
        try {
            while (!outClosed && (!writable || queuedOut > 0 && queuedOut + size > MAX_OUTBOX)) {
                changed.await();
            }
            if (outClosed) {
                frame.release();
                throw new IOException("WebSocket session closed (" + closeCode + " " + closeReason + ")");
            }
            queuedOut += size;
        } catch (InterruptedException e) {
            frame.release();
            throw e;
        } finally {
            lock.unlock();
        }
        loop.execute(() -> {
            if (closeSent || ended || !exchange.isOpen()) {
                frame.release();
            } else {
                exchange.write(frame, false);
            }
            boolean now = exchange.isWritable() || !exchange.isOpen();
            lock.lock();
            try {
                queuedOut -= size;
                writable = now;
                changed.signalAll();
            } finally {
                lock.unlock();
            }
            if (!now) {
                exchange.onWritable(this::writableAgain);
            }
        });
    }

    /** On the event loop: the exchange has room again, or it is gone. */
    private void writableAgain() {
        if (!exchange.isOpen()) {
            closedWith(ABNORMAL_CLOSURE, "the client went away");
            finish();
        }
        lock.lock();
        try {
            writable = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void close(int code, String reason) {
        if (!validCloseCode(code)) {
            throw new IllegalArgumentException("close: code " + code + " (expected: 1000..1003, 1007..1014, "
                    + "3000..4999)");
        }
        loop.execute(() -> closeFromServer(code, reason == null ? "" : reason));
    }

    @Override
    public boolean isOpen() {
        lock.lock();
        try {
            return !outClosed;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public int closeCode() {
        return closeCode;
    }

    @Override
    public String closeReason() {
        return closeReason;
    }

    @Override
    public long bufferedAmount() {
        lock.lock();
        try {
            return queuedOut;
        } finally {
            lock.unlock();
        }
    }

    // ---- helpers ----

    /** Codes an endpoint may send in a close frame (RFC 6455 §7.4). */
    static boolean validCloseCode(int code) {
        return code >= 1000 && code <= 1003 || code >= 1007 && code <= 1014 || code >= 3000 && code <= 4999;
    }

    static boolean validUtf8(byte[] data) {
        try {
            StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(data));
            return true;
        } catch (CharacterCodingException e) {
            return false;
        }
    }
}
