package dev.quicfleet.worker.log;

import dev.quicfleet.http.Request;
import dev.quicfleet.metrics.WorkerMetrics;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One line per request, written off the event loop: the event loop formats the line and adds it to a bounded
 * lock-free queue (never waiting, never waking anyone: a wake-up per request cost a futex call and a context switch
 * on the event loop's CPU); one writer thread wakes ten times a second, or early when the queue fills up, appends the
 * lines to a 64 KiB buffer and writes it when full, or at least once a second. A full queue drops the line and counts
 * it ({@code quicfleet_access_log_lines_total{outcome="dropped"}}), so a slow disk never slows a response.
 *
 * <p>The file is opened with {@code O_APPEND}, and every write holds whole lines, so the workers of a cluster can
 * share one file without tearing each other's lines; a {@code {slot}} in the path gives each worker its own file.
 * {@link #reopen} (SIGUSR1, as nginx) closes and opens the path again after logrotate renamed it: lines written
 * before go to the renamed file, none is lost.
 */
public final class AccessLog implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(AccessLog.class);

    /** Lines the writer may fall behind by before lines are dropped (~ a few MB of lines). */
    static final int QUEUE_LINES = 32_768;
    static final int BUFFER_BYTES = 64 * 1024;
    private static final long FLUSH_NANOS = TimeUnit.SECONDS.toNanos(1);
    /** How long the writer sleeps when the queue is empty. */
    private static final long SLEEP_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    /** Queued lines at which the event loop wakes the writer early (once per this many). */
    static final int WAKE_LINES = 4096;

    private final Path path;
    private final AccessLogFormat format;
    private final int slot;
    private final WorkerMetrics metrics;
    private final Queue<String> queue = new ConcurrentLinkedQueue<>();
    private final AtomicInteger queued = new AtomicInteger();
    private final Thread writer;
    private volatile boolean reopen;
    private volatile boolean closing;
    private FileChannel file;
    /** Writer thread only: the file could not be written; said once until it works again. */
    private boolean failing;

    /**
     * Opens {@code path} for appending (creating it) and starts the writer.
     *
     * @param path a file; {@code {slot}} in it is replaced by {@code slot}
     * @throws IllegalArgumentException naming the file and the reason when it cannot be opened
     */
    public AccessLog(String path, AccessLogFormat format, int slot, WorkerMetrics metrics) {
        this.path = Path.of(path.replace("{slot}", Integer.toString(slot)));
        this.format = format;
        this.slot = slot;
        this.metrics = metrics;
        try {
            this.file = open(this.path);
        } catch (IOException e) {
            throw new IllegalArgumentException("access-log: cannot open " + this.path + " for appending (" + e
                    + "); give a file in a directory this user may write to");
        }
        this.writer = Thread.ofPlatform().daemon().name("access-log").start(this::write);
    }

    /** The file lines go to. */
    public Path path() {
        return path;
    }

    /** Formats and queues the line of one finished exchange; never blocks. Called on the event loop. */
    public void log(Request request, AccessLogFormat.Outcome outcome) {
        StringBuilder line = new StringBuilder(256);
        format.format(line, System.currentTimeMillis(), request, outcome);
        int n = queued.incrementAndGet();
        if (closing || n > QUEUE_LINES) {
            queued.decrementAndGet();
            metrics.accessLogDropped(1);
            return;
        }
        queue.add(line.toString());
        if (n == WAKE_LINES) {
            LockSupport.unpark(writer); // filling up: write now rather than at the next tick
        }
    }

    /** The worker's slot, as logged. */
    public int slot() {
        return slot;
    }

    /** Closes and opens the file again (after logrotate moved it); thread-safe. */
    public void reopen() {
        reopen = true;
        LockSupport.unpark(writer);
    }

    /** Writes what is queued, closes the file and stops the writer (waits up to 5 s). */
    @Override
    public void close() {
        closing = true;
        LockSupport.unpark(writer);
        try {
            writer.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static FileChannel open(Path path) throws IOException {
        return FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
    }

    private void write() {
        ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER_BYTES);
        long lines = 0;
        long lastFlush = System.nanoTime();
        while (true) {
            String line = queue.poll();
            if (line != null) {
                queued.decrementAndGet();
                byte[] bytes = line.getBytes(StandardCharsets.UTF_8);
                if (bytes.length > buffer.remaining()) {
                    flush(buffer, lines);
                    lines = 0;
                    lastFlush = System.nanoTime();
                }
                if (bytes.length > buffer.capacity()) {
                    metrics.accessLogDropped(1); // a line over 64 KiB (headers are at most 16 KiB): never written
                } else {
                    buffer.put(bytes);
                    lines++;
                }
                if (!reopen) {
                    continue;
                }
            }
            // the queue is empty (or a reopen waits): write what is buffered when a second has passed
            long now = System.nanoTime();
            if (buffer.position() > 0 && (now - lastFlush >= FLUSH_NANOS || reopen || closing)) {
                flush(buffer, lines);
                lines = 0;
                lastFlush = now;
            } else if (buffer.position() == 0) {
                lastFlush = now;
            }
            if (reopen) {
                reopen = false;
                reopenFile();
            }
            if (closing) {
                if (queue.isEmpty()) {
                    closeFile();
                    return;
                }
                continue;
            }
            if (line == null) {
                LockSupport.parkNanos(this, SLEEP_NANOS);
                if (Thread.interrupted()) {
                    closing = true; // the JVM is going down: write what is queued
                }
            }
        }
    }

    private void flush(ByteBuffer buffer, long lines) {
        buffer.flip();
        try {
            while (buffer.hasRemaining()) {
                file.write(buffer); // O_APPEND: each write lands at the end, whole lines at a time
            }
            metrics.accessLogWritten(lines);
            if (failing) {
                failing = false;
                log.info("access log {} is written again", path);
            }
        } catch (IOException e) {
            metrics.accessLogDropped(lines);
            if (!failing) {
                failing = true;
                log.error("access log {} cannot be written ({}): lines are dropped and counted until it can; check "
                        + "the disk and the file's permissions", path, e.toString());
            }
        } finally {
            buffer.clear();
        }
    }

    private void reopenFile() {
        try {
            FileChannel reopened = open(path);
            closeFile();
            file = reopened;
            log.info("access log {} reopened", path);
        } catch (IOException e) {
            log.error("access log {} cannot be reopened ({}): still writing to the file open before", path,
                    e.toString());
        }
    }

    private void closeFile() {
        try {
            file.close();
        } catch (IOException e) {
            log.warn("access log {}: closing failed ({})", path, e.toString());
        }
    }
}
