package dev.quicfleet.client;

import io.netty.buffer.ByteBuf;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * What the client does with a response body; choose one of the factories. The response future of
 * {@link #ofInputStream()} completes when the header fields arrive, the others' when the body is complete.
 *
 * @param <T> the type of {@link H3Response#body()}
 */
public abstract class BodyHandler<T> {

    private BodyHandler() {
    }

    /** The whole body in memory; more than {@code limit} bytes fails the exchange. */
    public static BodyHandler<byte[]> ofByteArray(long limit) {
        return new BodyHandler<>() {
            @Override
            Sink<byte[]> newSink() {
                return new ArraySink(limit);
            }
        };
    }

    /** Counts the body's bytes and drops them on the event loop (what a load generator wants). */
    public static BodyHandler<Long> discarding() {
        return new BodyHandler<>() {
            @Override
            Sink<Long> newSink() {
                return new DiscardingSink();
            }
        };
    }

    /**
     * The body as a blocking {@link InputStream}, available as soon as the header fields arrive. The client reads
     * from the network only while less than 1 MiB waits unread, so a slow reader slows the server through QUIC flow
     * control. A failure of the exchange after the headers surfaces as an {@link H3Exception} from {@code read}.
     * Close the stream to abandon the rest of the body.
     */
    public static BodyHandler<InputStream> ofInputStream() {
        return new BodyHandler<>() {
            @Override
            Sink<InputStream> newSink() {
                return new StreamSink();
            }
        };
    }

    abstract Sink<T> newSink();

    /** The receiving end of one exchange. All methods but the stream's reads run on the connection's event loop. */
    abstract static class Sink<T> {
        /** Set by the exchange: asks the event loop to read more (callable from any thread). */
        Runnable requestMore = () -> { };
        /** Set by the exchange: cancels the exchange (the stream was closed early by the reader). */
        Runnable cancel = () -> { };

        boolean completesAtHead() {
            return false;
        }

        /** Takes ownership of {@code data}. Throws {@link H3Exception} to fail the exchange. */
        abstract void onData(ByteBuf data) throws H3Exception;

        boolean wantsMore() {
            return true;
        }

        void onEnd() {
        }

        void onError(H3Exception e) {
        }

        abstract T result();
    }

    private static final class ArraySink extends Sink<byte[]> {
        private final long limit;
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        ArraySink(long limit) {
            this.limit = limit;
        }

        @Override
        void onData(ByteBuf data) throws H3Exception {
            try {
                if (out.size() + (long) data.readableBytes() > limit) {
                    throw new H3Exception("response body larger than " + limit + " bytes");
                }
                data.readBytes(out, data.readableBytes());
            } catch (IOException e) {
                throw new H3Exception("cannot buffer the response body", e);
            } finally {
                data.release();
            }
        }

        @Override
        byte[] result() {
            return out.toByteArray();
        }
    }

    private static final class DiscardingSink extends Sink<Long> {
        private long bytes;

        @Override
        void onData(ByteBuf data) {
            bytes += data.readableBytes();
            data.release();
        }

        @Override
        Long result() {
            return bytes;
        }
    }

    /** Chunks handed from the event loop to a reader thread, at most {@link #HIGH_WATER} bytes ahead. */
    private static final class StreamSink extends Sink<InputStream> {
        private static final int HIGH_WATER = 1 << 20;

        private final Deque<ByteBuf> chunks = new ArrayDeque<>();
        private int buffered;
        private boolean ended;
        private boolean closed;
        private H3Exception failure;

        private final InputStream stream = new InputStream() {
            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                int n = read(one, 0, 1);
                return n < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (len == 0) {
                    return 0;
                }
                boolean askMore;
                int n;
                synchronized (StreamSink.this) {
                    while (chunks.isEmpty() && !ended && failure == null && !closed) {
                        try {
                            StreamSink.this.wait();
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            throw new java.io.InterruptedIOException("interrupted while reading the response body");
                        }
                    }
                    if (closed) {
                        throw new IOException("response body stream closed");
                    }
                    if (chunks.isEmpty()) {
                        if (failure != null) {
                            throw failure;
                        }
                        return -1;
                    }
                    ByteBuf head = chunks.peekFirst();
                    n = Math.min(len, head.readableBytes());
                    boolean wasFull = buffered >= HIGH_WATER;
                    head.readBytes(b, off, n);
                    buffered -= n;
                    if (!head.isReadable()) {
                        chunks.pollFirst().release();
                    }
                    askMore = wasFull && buffered < HIGH_WATER;
                }
                if (askMore) {
                    requestMore.run();
                }
                return n;
            }

            @Override
            public void close() {
                boolean cancelIt;
                synchronized (StreamSink.this) {
                    cancelIt = !ended && failure == null && !closed;
                    closed = true;
                    chunks.forEach(ByteBuf::release);
                    chunks.clear();
                    buffered = 0;
                    StreamSink.this.notifyAll();
                }
                if (cancelIt) {
                    cancel.run();
                }
            }
        };

        @Override
        boolean completesAtHead() {
            return true;
        }

        @Override
        synchronized void onData(ByteBuf data) {
            if (closed) {
                data.release();
                return;
            }
            chunks.addLast(data);
            buffered += data.readableBytes();
            notifyAll();
        }

        @Override
        synchronized boolean wantsMore() {
            return buffered < HIGH_WATER && !closed;
        }

        @Override
        synchronized void onEnd() {
            ended = true;
            notifyAll();
        }

        @Override
        synchronized void onError(H3Exception e) {
            if (!ended) {
                failure = e;
            }
            notifyAll();
        }

        @Override
        InputStream result() {
            return stream;
        }
    }
}
