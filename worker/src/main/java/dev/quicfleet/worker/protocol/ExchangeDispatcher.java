package dev.quicfleet.worker.protocol;

import dev.quicfleet.http.Handler;
import dev.quicfleet.http.Router;
import dev.quicfleet.http.Service;
import dev.quicfleet.metrics.WorkerMetrics;
import dev.quicfleet.worker.compression.Compression;
import dev.quicfleet.worker.log.AccessLog;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Starts each exchange's service on its event loop, runs blocking handlers on virtual threads of their own, and
 * counts the exchanges in flight, so a drain can wait for them. Shared by the HTTP/3, HTTP/2 and HTTP/1.1 pipelines
 * of one worker.
 */
public final class ExchangeDispatcher {

    private final Service service;
    private final WorkerMetrics metrics;
    private final ExecutorService executor = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().factory());
    private final AtomicInteger inFlight = new AtomicInteger();
    private final Duration bodyTimeout;
    private volatile String altSvc;
    private final Object idleLock = new Object();
    private volatile CompletableFuture<Void> idle = CompletableFuture.completedFuture(null);
    private volatile boolean draining;
    private volatile AccessLog accessLog;
    private volatile Compression compression;

    /**
     * @param service     the root service (usually a {@link Router})
     * @param bodyTimeout how long a handler waits for the next request body bytes, or for the client to open its
     *                    flow-control window, before the exchange fails
     * @param altSvc      the {@code alt-svc} value added to HTTP/1.1 and HTTP/2 responses, or {@code null}
     */
    public ExchangeDispatcher(Service service, Duration bodyTimeout, String altSvc, WorkerMetrics metrics) {
        this.service = service;
        this.bodyTimeout = bodyTimeout;
        this.altSvc = altSvc;
        this.metrics = metrics;
    }

    public WorkerMetrics metrics() {
        return metrics;
    }

    Duration bodyTimeout() {
        return bodyTimeout;
    }

    public String altSvc() {
        return altSvc;
    }

    /** Sets the {@code alt-svc} value once the UDP port is known (before the TCP listener accepts). */
    public void altSvc(String value) {
        this.altSvc = value;
    }

    /** Whether the worker is draining: responses ask clients to close (HTTP/1.1 {@code connection: close}). */
    public boolean draining() {
        return draining;
    }

    public void startDraining() {
        draining = true;
    }

    public int inFlight() {
        return inFlight.get();
    }

    /** Completes when no exchange is in flight (at once if none is). */
    public CompletableFuture<Void> whenIdle() {
        synchronized (idleLock) {
            return inFlight.get() == 0 ? CompletableFuture.completedFuture(null) : idle;
        }
    }

    public void dispatch(Exchange exchange) {
        synchronized (idleLock) {
            if (inFlight.getAndIncrement() == 0) {
                idle = new CompletableFuture<>();
            }
        }
        exchange.serve(service);
    }

    /** Runs {@code handler} for {@code exchange} on a virtual thread of its own. */
    void runBlocking(Exchange exchange, Handler handler) {
        executor.execute(() -> exchange.run(handler));
    }

    /** The exchange's response has left the process (or the stream is gone): count it, maybe complete a drain. */
    void finished(Exchange exchange) {
        exchange.record(metrics, accessLog);
        CompletableFuture<Void> done = null;
        synchronized (idleLock) {
            if (inFlight.decrementAndGet() == 0) {
                done = idle;
            }
        }
        if (done != null) {
            done.complete(null);
        }
    }

    /** Compresses responses by {@code compression} ({@code null}: never). */
    public void compression(Compression compression) {
        this.compression = compression;
    }

    Compression compression() {
        return compression;
    }

    /** Writes a line per finished exchange to {@code accessLog} ({@code null}: none). */
    public void accessLog(AccessLog accessLog) {
        this.accessLog = accessLog;
    }

    public void shutdownNow() {
        executor.shutdownNow();
    }
}
