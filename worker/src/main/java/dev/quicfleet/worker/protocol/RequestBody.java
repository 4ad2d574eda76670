package dev.quicfleet.worker.protocol;

import dev.quicfleet.http.BodyReceiver;
import dev.quicfleet.http.Headers;
import io.netty.buffer.ByteBuf;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The request body as the handler's {@link InputStream}: the event loop {@linkplain #offer offers} buffers as they
 * arrive, the handler's virtual thread reads them. At most {@link #HIGH_WATER} bytes wait here; above that the
 * exchange stops reading from the network, so the peer's flow-control window closes and the client waits — memory
 * stays bounded however fast the client sends and however slowly the handler reads.
 *
 * <p>Locks are {@link ReentrantLock}s, not {@code synchronized}: a virtual thread blocked in {@code synchronized}
 * would pin its carrier thread on JDK 21.
 */
public final class RequestBody extends InputStream {

    /** Above this many queued bytes the exchange stops asking the network for more. */
    static final int HIGH_WATER = 256 * 1024;

    private final Exchange exchange;
    private final Duration readTimeout;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final ArrayDeque<ByteBuf> queue = new ArrayDeque<>();
    private long queuedBytes;
    private boolean ended;
    private boolean discarding;
    private IOException failure;
    private Headers trailers = new Headers().asReadOnly();

    RequestBody(Exchange exchange, Duration readTimeout) {
        this.exchange = exchange;
        this.readTimeout = readTimeout;
    }

    // ---- event loop side ----

    /** Takes ownership of {@code data}. */
    void offer(ByteBuf data) {
        lock.lock();
        try {
            if (discarding || ended || failure != null) {
                data.release();
                return;
            }
            if (data.isReadable()) {
                queue.add(data);
                queuedBytes += data.readableBytes();
                changed.signalAll();
            } else {
                data.release();
            }
        } finally {
            lock.unlock();
        }
    }

    /** The body ended normally, with {@code trailers} (possibly empty). */
    void end(Headers trailers) {
        lock.lock();
        try {
            if (!ended) {
                ended = true;
                if (trailers != null && !trailers.isEmpty()) {
                    this.trailers = trailers.asReadOnly();
                }
                changed.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    /** The body cannot complete (stream reset, connection lost). */
    void fail(IOException cause) {
        lock.lock();
        try {
            if (!ended && failure == null) {
                failure = cause;
                releaseQueued();
                changed.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Whether the exchange should read more from the network now. */
    boolean wantsMore() {
        lock.lock();
        try {
            return !ended && failure == null && (discarding || queuedBytes < HIGH_WATER);
        } finally {
            lock.unlock();
        }
    }

    public boolean ended() {
        lock.lock();
        try {
            return ended;
        } finally {
            lock.unlock();
        }
    }

    /** Whether the body broke off (stream reset, connection lost). */
    boolean failed() {
        lock.lock();
        try {
            return failure != null;
        } finally {
            lock.unlock();
        }
    }

    /** The next queued buffer (owned by the caller), or {@code null}: for an event-loop {@link BodyReceiver}. */
    ByteBuf poll() {
        lock.lock();
        try {
            ByteBuf head = queue.poll();
            if (head != null) {
                queuedBytes -= head.readableBytes();
            }
            return head;
        } finally {
            lock.unlock();
        }
    }

    /** Why the body broke off, or {@code null}. */
    IOException failure() {
        lock.lock();
        try {
            return failure;
        } finally {
            lock.unlock();
        }
    }

    /** Drops queued and future bytes: the handler is done and did not read everything. */
    void discard() {
        lock.lock();
        try {
            discarding = true;
            releaseQueued();
        } finally {
            lock.unlock();
        }
    }

    Headers trailers() {
        lock.lock();
        try {
            return trailers;
        } finally {
            lock.unlock();
        }
    }

    // ---- handler side ----

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        int n = read(one, 0, 1);
        return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        Objects.checkFromIndexSize(off, len, b.length);
        if (len == 0) {
            return 0;
        }
        int n = 0;
        boolean askForMore;
        lock.lock();
        try {
            long deadline = System.nanoTime() + readTimeout.toNanos();
            while (queue.isEmpty() && !ended && failure == null && !discarding) {
                long remaining = deadline - System.nanoTime();
                if (remaining <= 0) {
                    throw new IOException("request body: no data for " + readTimeout.toSeconds()
                            + "s (client stalled)");
                }
                exchange.requestRead();
                try {
                    changed.await(Math.min(remaining, TimeUnit.MILLISECONDS.toNanos(500)), TimeUnit.NANOSECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new InterruptedIOException("interrupted while reading the request body");
                }
            }
            if (failure != null && queue.isEmpty()) {
                throw new IOException("request body: " + failure.getMessage(), failure);
            }
            while (n < len && !queue.isEmpty()) {
                ByteBuf head = queue.peek();
                int chunk = Math.min(len - n, head.readableBytes());
                head.readBytes(b, off + n, chunk);
                n += chunk;
                if (!head.isReadable()) {
                    queue.poll().release();
                }
            }
            queuedBytes -= n;
            if (n == 0) {
                return -1;
            }
            askForMore = !ended && queuedBytes < HIGH_WATER / 2;
        } finally {
            lock.unlock();
        }
        if (askForMore) {
            exchange.requestRead();
        }
        return n;
    }

    @Override
    public int available() {
        lock.lock();
        try {
            return (int) Math.min(Integer.MAX_VALUE, queuedBytes);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void close() {
        discard();
        exchange.requestRead();
    }

    private void releaseQueued() {
        ByteBuf buf;
        while ((buf = queue.poll()) != null) {
            buf.release();
        }
        queuedBytes = 0;
    }
}
