package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.quicfleet.http.Handler;
import dev.quicfleet.http.Router;
import dev.quicfleet.metrics.HttpProtocol;
import dev.quicfleet.metrics.TcpErrorReason;
import dev.quicfleet.metrics.TimeoutReason;
import dev.quicfleet.worker.tls.TlsMaterial;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http3.DefaultHttp3DataFrame;
import io.netty.handler.codec.http3.Http3ErrorCode;
import io.netty.handler.codec.quic.QuicStreamResetException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Slow and broken clients are dropped by the limits and counted, and the log stays quiet: a worker in this JVM with
 * a body timeout and a header timeout of 2 s; raw TLS sockets, and Netty's HTTP/2 and HTTP/3 clients, which leave
 * flow control to the test.
 */
class SlowClientsTest {

    private static final Duration BODY_TIMEOUT = Duration.ofSeconds(2);
    private static final Duration HEADER_TIMEOUT = Duration.ofSeconds(2);
    /** The size /big announces; a client that reads it all was never dropped. */
    private static final long BIG = 1L << 30;
    private static final byte[] CHUNK = new byte[64 * 1024];

    @TempDir
    Path tmp;
    private Worker worker;
    private final CompletableFuture<Throwable> bigFailed = new CompletableFuture<>();

    @BeforeEach
    void startWorker() {
        Handler big = (request, response) -> {
            response.header("content-length", Long.toString(BIG));
            try (OutputStream out = response.body()) {
                for (long sent = 0; sent < BIG; sent += CHUNK.length) {
                    out.write(CHUNK);
                }
            } catch (IOException | RuntimeException e) {
                bigFailed.complete(e);
                throw e;
            }
        };
        Handler upload = (request, response) -> {
            long n = request.body().transferTo(OutputStream.nullOutputStream());
            response.send(200, "text/plain", Long.toString(n));
        };
        Handler hello = (request, response) -> response.send(200, "text/plain", "hello " + request.authority());
        worker = new Worker(WorkerConfig.builder()
                .address(InetAddress.getLoopbackAddress())
                .port(0)
                .stateDir(tmp.resolve("state"))
                .bodyTimeout(BODY_TIMEOUT)
                .headerTimeout(HEADER_TIMEOUT)
                .build(), Router.builder().route("/big", big).route("/upload", upload).route("/", hello).build());
        worker.start().join();
    }

    @AfterEach
    void stopWorker() {
        worker.stop().join();
    }

    @Test
    void http1ClientThatStopsReadingIsResetAfterTheBodyTimeout() throws Exception {
        try (SSLSocket socket = http1Socket(64 * 1024)) {
            socket.getOutputStream().write("GET /big HTTP/1.1\r\nhost: localhost\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            assertThat(socket.getInputStream().read()).isEqualTo('H'); // the response started; now stop reading
            long stopped = System.nanoTime();
            Throwable failure = bigFailed.get(BODY_TIMEOUT.toSeconds() + 15, TimeUnit.SECONDS);
            assertThat(failure).hasMessageContaining("did not read the response");
            assertThat(Duration.ofNanos(System.nanoTime() - stopped)).isGreaterThanOrEqualTo(BODY_TIMEOUT);
            awaitTrue(() -> timeouts(HttpProtocol.HTTP_1_1, TimeoutReason.SEND) == 1, "send timeout counted");

            // What the socket buffers still hold arrives, then the reset: never the rest of the 1 GiB, and never
            // a connection left open with a truncated body (the read would time out).
            socket.setSoTimeout(5_000);
            long read = drainUntilClosed(socket.getInputStream());
            assertThat(read).isLessThan(64L << 20);
        }
    }

    @Test
    void http2StreamThatStopsReadingIsResetAfterTheBodyTimeoutAndTheConnectionLives() throws Exception {
        // Netty's frame codec as the client: it never opens a window the application did not open itself
        try (TestH2Client client = new TestH2Client(worker.port(), tmp.resolve("state/dev-cert.pem"))) {
            TestH2Client.Stream big = client.get("/big");
            assertThat(big.status.get(15, TimeUnit.SECONDS)).isEqualTo("200");
            assertThat(bigFailed.get(BODY_TIMEOUT.toSeconds() + 15, TimeUnit.SECONDS))
                    .hasMessageContaining("did not read the response");
            assertThat(big.reset.get(15, TimeUnit.SECONDS)).isEqualTo(Http2Error.CANCEL.code());
            assertThat(timeouts(HttpProtocol.H2, TimeoutReason.SEND)).isEqualTo(1);
            assertThat(big.bodyBytes.get()).isLessThan(1L << 20);

            // only the stream was reset: the connection still serves
            TestH2Client.Stream next = client.get("/");
            assertThat(next.status.get(15, TimeUnit.SECONDS)).isEqualTo("200");
            assertThat(next.reset).isNotDone();
        }
    }

    @Test
    void http3StreamThatStopsReadingIsResetAfterTheBodyTimeout() throws Exception {
        X509Certificate cert = TlsMaterial.developmentCertificate(tmp.resolve("state"), Clock.systemUTC()).leaf();
        try (TestH3Client client = new TestH3Client(worker.port(), cert, 1 << 20)) {
            TestH3Client.Exchange exchange = client.get("/big", false);
            CompletableFuture<Throwable> streamError = new CompletableFuture<>();
            exchange.stream.pipeline().addFirst(new ChannelInboundHandlerAdapter() {
                @Override
                public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                    streamError.complete(cause);
                    ctx.fireExceptionCaught(cause);
                }
            });
            assertThat(bigFailed.get(BODY_TIMEOUT.toSeconds() + 15, TimeUnit.SECONDS))
                    .hasMessageContaining("did not read the response");
            awaitTrue(() -> timeouts(HttpProtocol.H3, TimeoutReason.SEND) == 1, "send timeout counted");
            TestH3Client.resume(exchange);
            // the reset ends the stream well short of the 1 GiB announced
            assertThat(streamError.get(15, TimeUnit.SECONDS)).isInstanceOfSatisfying(QuicStreamResetException.class,
                    reset -> assertThat(reset.applicationProtocolCode())
                            .isEqualTo(Http3ErrorCode.H3_REQUEST_CANCELLED.code()));
            assertThat(exchange.done).as("no complete response").isNotDone();
            assertThat(exchange.bodyBytes.get()).isLessThan(16L << 20);
        }
    }

    @Test
    void slowlorisHeadersAreDroppedAfterTheHeaderTimeout() throws Exception {
        try (SSLSocket socket = http1Socket(0)) {
            OutputStream out = socket.getOutputStream();
            out.write("GET / HTTP/1.1\r\nhost: localhost\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            long start = System.nanoTime();
            // A header field at 4 bytes a second, for up to 15 s: far past the header timeout, and each byte would
            // reset an idle timer. The worker must cut it off.
            CompletableFuture<Void> trickle = CompletableFuture.runAsync(() -> {
                try {
                    for (int i = 0; i < 60; i++) {
                        out.write('a');
                        out.flush();
                        TimeUnit.MILLISECONDS.sleep(250); // the client's pace, not a wait for the server
                    }
                } catch (IOException e) {
                    // the worker reset the connection
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            socket.setSoTimeout(12_000);
            drainUntilClosed(socket.getInputStream());
            Duration lived = Duration.ofNanos(System.nanoTime() - start);
            assertThat(lived).isGreaterThanOrEqualTo(HEADER_TIMEOUT.minusMillis(100))
                    .isLessThan(HEADER_TIMEOUT.plusSeconds(4));
            assertThat(timeouts(HttpProtocol.HTTP_1_1, TimeoutReason.HEADER)).isEqualTo(1);
            trickle.get(20, TimeUnit.SECONDS);
        }
    }

    @Test
    void keepAliveConnectionIsNotCutByTheHeaderTimeoutWhileIdle() throws Exception {
        try (SSLSocket socket = http1Socket(0)) {
            socket.setSoTimeout(10_000);
            assertThat(exchange(socket, "GET / HTTP/1.1\r\nhost: localhost\r\n\r\n")).startsWith("HTTP/1.1 200");
            // idle longer than the header timeout (the idle timeout, 30 s, governs this wait), then a request
            long idleUntil = System.nanoTime() + HEADER_TIMEOUT.plusSeconds(1).toNanos();
            awaitTrue(() -> System.nanoTime() > idleUntil, "idle period over");
            assertThat(exchange(socket, "GET / HTTP/1.1\r\nhost: localhost\r\n\r\n")).startsWith("HTTP/1.1 200");
        }
        assertThat(timeouts(HttpProtocol.HTTP_1_1, TimeoutReason.HEADER)).isZero();
    }

    @Test
    void trickledRequestBodyIsDropped() throws Exception {
        try (SSLSocket socket = http1Socket(0)) {
            OutputStream out = socket.getOutputStream();
            out.write("POST /upload HTTP/1.1\r\nhost: localhost\r\ncontent-length: 1000\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            long start = System.nanoTime();
            // 4 bytes a second, far below the 240 bytes a second minimum, but never silent for the body timeout
            CompletableFuture<Void> trickle = CompletableFuture.runAsync(() -> {
                try {
                    for (int i = 0; i < 60; i++) {
                        out.write('b');
                        out.flush();
                        TimeUnit.MILLISECONDS.sleep(250); // the client's pace
                    }
                } catch (IOException e) {
                    // the worker reset the connection
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            socket.setSoTimeout(12_000);
            String answer = new String(readUntilClosed(socket.getInputStream()), StandardCharsets.ISO_8859_1);
            assertThat(answer).doesNotStartWith("HTTP/1.1 200");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(BODY_TIMEOUT.plusSeconds(5));
            assertThat(timeouts(HttpProtocol.HTTP_1_1, TimeoutReason.BODY_RATE)).isEqualTo(1);
            trickle.get(20, TimeUnit.SECONDS);
        }
    }

    /** The same on HTTP/3: a request body that stops arriving ends its stream (reset), and is counted. */
    @Test
    void stalledHttp3RequestBodyIsDroppedAfterTheBodyTimeout() throws Exception {
        X509Certificate cert = TlsMaterial.developmentCertificate(tmp.resolve("state"), Clock.systemUTC()).leaf();
        try (TestH3Client client = new TestH3Client(worker.port(), cert, 1 << 20)) {
            TestH3Client.Exchange exchange = client.startPost("/upload", 1000);
            exchange.stream.writeAndFlush(new DefaultHttp3DataFrame(
                    Unpooled.copiedBuffer("first bytes", StandardCharsets.US_ASCII))).sync();
            awaitTrue(() -> timeouts(HttpProtocol.H3, TimeoutReason.BODY) == 1, "HTTP/3 body timeout counted");
            assertThat(exchange.headerFrames).as("no answer as if the upload had completed")
                    .noneMatch(h -> "200".contentEquals(h.status()));
        }
    }

    @Test
    void stalledRequestBodyIsDroppedAfterTheBodyTimeout() throws Exception {
        try (SSLSocket socket = http1Socket(0)) {
            OutputStream out = socket.getOutputStream();
            out.write("POST /upload HTTP/1.1\r\nhost: localhost\r\ncontent-length: 1000\r\n\r\nfirst bytes"
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            socket.setSoTimeout(12_000);
            String answer = new String(readUntilClosed(socket.getInputStream()), StandardCharsets.ISO_8859_1);
            assertThat(answer).doesNotStartWith("HTTP/1.1 200");
            awaitTrue(() -> timeouts(HttpProtocol.HTTP_1_1, TimeoutReason.BODY) == 1, "body timeout counted");
        }
    }

    @Test
    void requestWithoutHostOrWithTwoGets400AndIsNotServed() throws Exception {
        for (String request : List.of("GET / HTTP/1.1\r\n\r\n",
                "GET / HTTP/1.1\r\nhost: localhost\r\nhost: evil.example\r\n\r\n",
                "GET http://localhost/ HTTP/1.1\r\n\r\n")) {
            try (SSLSocket socket = http1Socket(0)) {
                socket.setSoTimeout(10_000);
                socket.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
                String answer = new String(readUntilClosed(socket.getInputStream()), StandardCharsets.ISO_8859_1);
                assertThat(answer).as(request).startsWith("HTTP/1.1 400").contains("Host").doesNotContain("hello");
            }
        }
        // HTTP/1.0 has no Host requirement, and one Host is fine
        try (SSLSocket socket = http1Socket(0)) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(new String(readUntilClosed(socket.getInputStream()), StandardCharsets.ISO_8859_1))
                    .startsWith("HTTP/1.1 200");
        }
        try (SSLSocket socket = http1Socket(0)) {
            socket.setSoTimeout(10_000);
            assertThat(exchange(socket, "GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n"))
                    .startsWith("HTTP/1.1 200").contains("hello localhost");
        }
    }

    @Test
    void connectionsResetByTheirClientsAreCountedAndNotLogged() throws Exception {
        int n = 21;
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        ListAppender<ILoggingEvent> captured = new ListAppender<>();
        captured.start();
        root.addAppender(captured);
        try {
            for (int i = 0; i < n; i++) {
                // in the TLS handshake, on an HTTP/1.1 connection waiting for a request, on an idle HTTP/2 one
                int nth = i + 1;
                if (i % 3 == 2) {
                    TestH2Client client = new TestH2Client(worker.port(), tmp.resolve("state/dev-cert.pem"));
                    try (client) {
                        assertThat(client.get("/").status.get(10, TimeUnit.SECONDS)).isEqualTo("200");
                        client.reset();
                    }
                    awaitTrue(() -> resets() >= nth,
                            "reset " + nth + " (h2) counted");
                } else if (i % 3 == 0) {
                    Socket socket = new Socket();
                    socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), worker.port()), 5_000);
                    // a real ClientHello; once the worker's ServerHello arrives it waits for the client's Finished
                    SSLEngine engine = TestClients.trusting(tmp.resolve("state/dev-cert.pem"))
                            .createSSLEngine("localhost", worker.port());
                    engine.setUseClientMode(true);
                    ByteBuffer hello = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
                    engine.wrap(ByteBuffer.allocate(0), hello);
                    socket.getOutputStream().write(hello.array(), 0, hello.position());
                    socket.setSoTimeout(10_000);
                    assertThat(socket.getInputStream().read()).as("ServerHello").isEqualTo(0x16);
                    resetAfterTheWorkerRead(socket, nth, n);
                } else {
                    Socket plain = new Socket();
                    SSLSocket socket = http1Socket(plain, 0);
                    socket.getOutputStream().write("GET / HTTP/1.1\r\nhost: localhost\r\n\r\n"
                            .getBytes(StandardCharsets.US_ASCII));
                    socket.setSoTimeout(10_000);
                    assertThat(readHead(socket.getInputStream())).startsWith("HTTP/1.1 200");
                    // the TCP socket under TLS: closing the SSLSocket would send close_notify first
                    resetAfterTheWorkerRead(plain, nth, n);
                }
            }
            awaitTrue(() -> resets() == n, n + " resets counted");
            // one more request on a fresh connection: the worker serves on, and its log had time to show anything
            try (SSLSocket socket = http1Socket(0)) {
                socket.setSoTimeout(10_000);
                assertThat(exchange(socket, "GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n"))
                        .startsWith("HTTP/1.1 200");
            }
        } finally {
            root.detachAppender(captured);
        }
        assertThat(captured.list.stream().filter(e -> e.getLevel().isGreaterOrEqual(Level.WARN))
                .map(ILoggingEvent::getFormattedMessage).toList()).isEmpty();
        assertThat(resets()).isEqualTo(n);
        assertThat(worker.metrics().tcpErrors(TcpErrorReason.OTHER)).isZero();
    }

    @Test
    void bytesThatAreNotTlsAreCountedAndNotLogged() throws Exception {
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        ListAppender<ILoggingEvent> captured = new ListAppender<>();
        captured.start();
        root.addAppender(captured);
        try {
            for (int i = 0; i < 5; i++) {
                try (Socket socket = new Socket()) {
                    socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), worker.port()), 5_000);
                    socket.setSoTimeout(10_000);
                    socket.getOutputStream().write("GET / HTTP/1.1\r\nhost: localhost\r\n\r\n"
                            .getBytes(StandardCharsets.US_ASCII)); // plain HTTP on the TLS port
                    drainUntilClosed(socket.getInputStream());
                }
            }
            awaitTrue(() -> worker.metrics().tcpErrors(TcpErrorReason.TLS) == 5, "5 TLS failures counted");
        } finally {
            root.detachAppender(captured);
        }
        assertThat(captured.list.stream().filter(e -> e.getLevel().isGreaterOrEqual(Level.WARN))
                .map(ILoggingEvent::getFormattedMessage).toList()).isEmpty();
        assertThat(worker.metrics().tcpErrors(TcpErrorReason.OTHER)).isZero();
    }

    /** Resets {@code socket} (SO_LINGER 0), then waits until the worker counted the {@code nth} reset. */
    private void resetAfterTheWorkerRead(Socket socket, int nth, int total)
            throws Exception {
        socket.setSoLinger(true, 0);
        socket.close();
        awaitTrue(() -> resets() >= nth, "reset " + nth + " of " + total + " counted");
    }

    /** Connections reset by the client: noticed by a read (ECONNRESET) or by a write (EPIPE or ECONNRESET). */
    private long resets() {
        return worker.metrics().tcpErrors(TcpErrorReason.RESET)
                + worker.metrics().tcpErrors(TcpErrorReason.BROKEN_PIPE);
    }

    private long timeouts(HttpProtocol protocol, TimeoutReason reason) {
        return worker.metrics().timeouts(protocol, reason);
    }

    /** A TLS socket speaking HTTP/1.1; a receive buffer of {@code receiveBuffer} bytes unless 0. */
    private SSLSocket http1Socket(int receiveBuffer) throws Exception {
        return http1Socket(new Socket(), receiveBuffer);
    }

    /** {@link #http1Socket(int)} over {@code plain}, a socket not yet connected. */
    private SSLSocket http1Socket(Socket plain, int receiveBuffer) throws Exception {
        return TestClients.http1Socket(plain, worker.port(), tmp.resolve("state/dev-cert.pem"), receiveBuffer);
    }

    /** Sends {@code request} and returns the response head and body (content-length) as text. */
    private static String exchange(SSLSocket socket, String request) throws IOException {
        socket.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
        InputStream in = socket.getInputStream();
        String head = readHead(in);
        int length = 0;
        for (String line : head.split("\r\n")) {
            if (line.toLowerCase().startsWith("content-length:")) {
                length = Integer.parseInt(line.substring(15).trim());
            }
        }
        return head + new String(in.readNBytes(length), StandardCharsets.ISO_8859_1);
    }

    private static String readHead(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                break;
            }
            head.append((char) b);
        }
        return head.toString();
    }

    /**
     * Reads until the worker ends the connection (EOF or a reset) and returns how many bytes came; a read that times
     * out means the connection was left open, and fails the test.
     */
    private static long drainUntilClosed(InputStream in) {
        long total = 0;
        byte[] buffer = new byte[64 * 1024];
        try {
            for (int r; (r = in.read(buffer)) >= 0; ) {
                total += r;
            }
        } catch (SocketTimeoutException e) {
            throw new AssertionError("the connection stayed open (no byte and no close for the read timeout) after "
                    + total + " bytes", e);
        } catch (IOException e) {
            // reset by the worker: closed
        }
        return total;
    }

    private static byte[] readUntilClosed(InputStream in) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        byte[] buffer = new byte[16 * 1024];
        try {
            for (int r; (r = in.read(buffer)) >= 0; ) {
                out.write(buffer, 0, r);
            }
        } catch (SocketTimeoutException e) {
            throw new AssertionError("the connection stayed open after: " + out.toString(StandardCharsets.ISO_8859_1),
                    e);
        } catch (IOException e) {
            // reset by the worker: closed
        }
        return out.toByteArray();
    }

    /** Waits (bounded: 20 s) for {@code condition}, checking every 20 ms. */
    private static void awaitTrue(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        Object monitor = new Object();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within 20 s: " + what);
            }
            synchronized (monitor) {
                monitor.wait(20);
            }
        }
    }
}
