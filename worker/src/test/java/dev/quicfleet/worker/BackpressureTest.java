package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quicfleet.http.Handler;
import dev.quicfleet.http.Router;
import dev.quicfleet.worker.tls.TlsMaterial;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Backpressure through the handler API: a handler writing to a client that does not read stalls (it does not buffer
 * the response in memory), and a client uploading to a handler that does not read stalls too. A worker runs in this
 * JVM with handlers that count what they manage to write or read.
 */
class BackpressureTest {

    private static final int TOTAL = 64 << 20;
    private static final byte[] CHUNK = new byte[64 * 1024];

    @TempDir
    Path tmp;
    private Worker worker;
    private final AtomicLong handlerWrote = new AtomicLong();
    private final AtomicLong handlerRead = new AtomicLong();
    private final CountDownLatch startReading = new CountDownLatch(1);
    private final CompletableFuture<Long> handlerDone = new CompletableFuture<>();

    @BeforeEach
    void startWorker() {
        Handler big = (request, response) -> {
            response.header("content-length", Integer.toString(TOTAL));
            try (OutputStream out = response.body()) {
                for (int sent = 0; sent < TOTAL; sent += CHUNK.length) {
                    out.write(CHUNK);
                    handlerWrote.addAndGet(CHUNK.length);
                }
            }
        };
        Handler slowReader = (request, response) -> {
            startReading.await(30, TimeUnit.SECONDS);
            long n = 0;
            byte[] buffer = new byte[64 * 1024];
            try (InputStream in = request.body()) {
                for (int r; (r = in.read(buffer)) >= 0; ) {
                    n += r;
                    handlerRead.addAndGet(r);
                }
            }
            handlerDone.complete(n);
            response.send(200, "text/plain", Long.toString(n));
        };
        WorkerConfig config = WorkerConfig.builder()
                .address(InetAddress.getLoopbackAddress())
                .port(0)
                .stateDir(tmp.resolve("state"))
                .build();
        worker = new Worker(config, Router.builder().route("/big", big).route("/upload", slowReader).build());
        worker.start().join();
    }

    @AfterEach
    void stopWorker() {
        startReading.countDown();
        worker.stop().join();
    }

    @Test
    void http1ResponseWriterStallsWhileTheClientDoesNotRead() throws Exception {
        try (SSLSocket socket = http1Socket()) {
            socket.getOutputStream().write("GET /big HTTP/1.1\r\nhost: localhost\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
            long stalledAt = awaitStable(handlerWrote::get);
            // Socket buffers of both ends plus the worker's bounded queue; nowhere near the 64 MiB response.
            assertThat(stalledAt).isGreaterThan(0).isLessThan(TOTAL / 4);

            assertThat(readBody(socket.getInputStream())).isEqualTo(TOTAL);
            // the handler counts after each write returns: wait (bounded) for its last count
            assertThat(awaitStable(handlerWrote::get)).isEqualTo(TOTAL);
        }
    }

    @Test
    void http1UploadStallsWhileTheHandlerDoesNotRead() throws Exception {
        try (SSLSocket socket = http1Socket()) {
            OutputStream out = socket.getOutputStream();
            AtomicLong clientSent = new AtomicLong();
            CompletableFuture<Void> upload = CompletableFuture.runAsync(() -> {
                try {
                    out.write(("POST /upload HTTP/1.1\r\nhost: localhost\r\ncontent-length: " + TOTAL + "\r\n\r\n")
                            .getBytes(StandardCharsets.US_ASCII));
                    for (int sent = 0; sent < TOTAL; sent += CHUNK.length) {
                        out.write(CHUNK);
                        clientSent.addAndGet(CHUNK.length);
                    }
                    out.flush();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            long stalledAt = awaitStable(clientSent::get);
            assertThat(stalledAt).isLessThan(TOTAL / 4);
            assertThat(handlerRead.get()).isZero();

            startReading.countDown();
            upload.get(60, TimeUnit.SECONDS);
            assertThat(handlerDone.get(60, TimeUnit.SECONDS)).isEqualTo(TOTAL);
        }
    }

    @Test
    void http3ResponseWriterStallsWhileTheStreamWindowIsClosed() throws Exception {
        X509Certificate cert = TlsMaterial.developmentCertificate(tmp.resolve("state"), Clock.systemUTC()).leaf();
        // the client grants the server 1 MiB per stream, and does not read
        try (TestH3Client client = new TestH3Client(worker.port(), cert, 1 << 20)) {
            TestH3Client.Exchange exchange = client.get("/big", false);
            long stalledAt = awaitStable(handlerWrote::get);
            // 1 MiB window + the worker's bounded queue + one chunk: a few MiB at most, not 64.
            assertThat(stalledAt).isGreaterThan(0).isLessThan(8L << 20);

            TestH3Client.resume(exchange);
            exchange.done.get(60, TimeUnit.SECONDS);
            assertThat(exchange.bodyBytes.get()).isEqualTo(TOTAL);
        }
    }

    private SSLSocket http1Socket() throws Exception {
        SSLSocket socket = (SSLSocket) TestClients.trusting(tmp.resolve("state/dev-cert.pem")).getSocketFactory()
                .createSocket(InetAddress.getLoopbackAddress(), worker.port());
        SSLParameters params = socket.getSSLParameters();
        params.setApplicationProtocols(new String[] {"http/1.1"});
        socket.setSSLParameters(params);
        socket.setSoTimeout(60_000);
        socket.startHandshake();
        return socket;
    }

    /** Skips the HTTP/1.1 response head, then reads the body ({@link #TOTAL} bytes); returns the body length read. */
    private static long readBody(InputStream in) throws Exception {
        int matched = 0;
        while (matched < 4) {
            int b = in.read();
            if (b < 0) {
                return -1;
            }
            matched = b == "\r\n\r\n".charAt(matched) ? matched + 1 : (b == '\r' ? 1 : 0);
        }
        long total = 0;
        byte[] buffer = new byte[256 * 1024];
        for (int r; total < TOTAL && (r = in.read(buffer, 0, (int) Math.min(buffer.length, TOTAL - total))) >= 0; ) {
            total += r;
        }
        return total;
    }

    /**
     * Waits until {@code counter} stops growing (the same value over 500 ms), bounded by 20 s, and returns it.
     * Waiting is on a condition with a deadline, never a fixed sleep that the assertion depends on.
     */
    private static long awaitStable(LongSupplier counter) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        long last = -1;
        long stableSince = System.nanoTime();
        Object monitor = new Object();
        while (System.nanoTime() < deadline) {
            long now = counter.getAsLong();
            if (now != last) {
                last = now;
                stableSince = System.nanoTime();
            } else if (now > 0 && System.nanoTime() - stableSince > TimeUnit.MILLISECONDS.toNanos(500)) {
                return now;
            }
            synchronized (monitor) {
                monitor.wait(25);
            }
        }
        throw new AssertionError("counter kept changing for 20 s (last " + last + "): no backpressure");
    }

}
