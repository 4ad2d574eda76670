package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quicfleet.worker.tls.TlsMaterial;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SIGTERM drains: GOAWAY, in-flight requests finish, new connections are refused, exit 0. */
class DrainIT {

    @TempDir
    Path tmp;
    /** The clients block for seconds: each gets a thread (the common pool may have only one or two). */
    private final ExecutorService clients = Executors.newThreadPerTaskExecutor(Thread.ofPlatform().daemon().factory());

    @AfterEach
    void stopClients() {
        clients.shutdownNow();
    }

    @Test
    void inFlightStreamsFinishOnSigtermAndTheWorkerExitsZero() throws Exception {
        try (WorkerProcess worker = WorkerProcess.start(tmp.resolve("state"), "--drain-timeout", "10s")) {
            // An HTTP/2 and an HTTP/3 server-sent-event stream (20 events over ~5 s each) are in flight when SIGTERM
            // arrives.
            HttpClient client = TestClients.http(tmp.resolve("state"), HttpClient.Version.HTTP_2);
            CountDownLatch firstEvent = new CountDownLatch(1);
            // Read on a thread of our own: blocking in a sendAsync() continuation would stall the client's own
            // delivery thread.
            CompletableFuture<Long> h2Events = CompletableFuture.supplyAsync(() -> {
                try {
                    HttpResponse<Stream<String>> response = client.send(HttpRequest.newBuilder(
                                    URI.create("https://localhost:" + worker.port() + "/sse?interval=250ms"))
                            .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofLines());
                    try (Stream<String> lines = response.body()) {
                        return lines.filter(l -> l.startsWith("data: {\"i\""))
                                .peek(l -> firstEvent.countDown()).count();
                    }
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }, clients);
            Path dir = Files.createDirectories(tmp.resolve("h3"));
            CountDownLatch firstH3Data = new CountDownLatch(1);
            CompletableFuture<Peers.Run> h3 = CompletableFuture.supplyAsync(() -> {
                try {
                    return Peers.gtlsclient(worker.port(), List.of("--no-http-dump", "--download", dir.toString()),
                            Duration.ofSeconds(30), line -> {
                                if (line.text().contains("frm rx") && line.text().contains(" id=0x0 ")) {
                                    firstH3Data.countDown();
                                }
                            }, "/sse?interval=250ms");
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }, clients);
            // A third stream from nghttp2's client, which prints the frames it receives (GOAWAY included).
            CountDownLatch firstNghttpData = new CountDownLatch(1);
            CompletableFuture<Peers.Run> nghttp = CompletableFuture.supplyAsync(() -> {
                try {
                    return Peers.nghttp(worker.port(), "/sse?interval=250ms", Duration.ofSeconds(30), line -> {
                        if (line.text().contains("recv DATA frame")) {
                            firstNghttpData.countDown();
                        }
                    });
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }, clients);
            assertThat(firstEvent.await(15, TimeUnit.SECONDS)).isTrue();
            assertThat(firstH3Data.await(15, TimeUnit.SECONDS)).isTrue();
            assertThat(firstNghttpData.await(15, TimeUnit.SECONDS)).isTrue();

            worker.terminate();
            assertThat(worker.awaitStderr(l -> l.contains("draining:"), Duration.ofSeconds(10)))
                    .as(worker.stderr()).contains("draining: 3 requests in flight, 1 QUIC and 2 TCP connections");
            // Stop accepting: the TCP listener is closed while the in-flight streams still run.
            assertThatThrownBy(() -> new Socket(InetAddress.getLoopbackAddress(), worker.port()).close())
                    .isInstanceOf(ConnectException.class);

            assertThat(h2Events.get(30, TimeUnit.SECONDS)).isEqualTo(20);
            Peers.Run run = h3.get(30, TimeUnit.SECONDS);
            String body = Files.readString(dir.resolve("sse?interval=250ms"));
            assertThat(body.lines().filter(l -> l.startsWith("data: {\"i\"")).count()).isEqualTo(20);
            assertThat(body).endsWith("event: done\ndata: {}\n\n");
            // GOAWAY travels on the server's HTTP/3 control stream (id 3): after SETTINGS (its first frame),
            // the client received a second write on that stream.
            long controlStreamFrames = run.stderr().stream()
                    .filter(l -> l.text().contains("frm rx") && l.text().contains("STREAM")
                            && l.text().contains(" id=0x3 "))
                    .count();
            assertThat(controlStreamFrames).as("control stream frames; stderr: %s", run.stderrText())
                    .isGreaterThanOrEqualTo(2);

            // HTTP/2: GOAWAY(NO_ERROR) naming the in-flight stream, which still ends normally with all its data.
            String frames = nghttp.get(30, TimeUnit.SECONDS).stdoutText();
            assertThat(frames).contains("recv GOAWAY frame").containsPattern(
                    "last_stream_id=\\d+, error_code=NO_ERROR\\(0x00\\)");
            assertThat(frames.lines().filter(l -> l.contains("recv DATA frame")).count())
                    .isGreaterThanOrEqualTo(20);
            assertThat(frames).containsPattern("recv DATA frame <length=\\d+, flags=0x01");

            assertThat(worker.awaitExit(Duration.ofSeconds(20))).as(worker.stderr()).isZero();
            assertThat(worker.stderr()).contains("stopped").doesNotContain("Exception");
        }
    }

    /**
     * HTTP/3 requests whose client sends the FIN after the HEADERS frame (Netty's client, the project's h3load):
     * once every response has arrived nothing is in flight, so the drain log says 0 and the drain ends within its
     * 1 s grace for HTTP/3 clients to close (this one keeps its connection open) instead of at its deadline. Before,
     * an exchange counted as in flight until its stream channel closed, which in Netty 4.2.18 needs the client's FIN
     * to have been read; after the response ended the server stopped reading, so some exchanges never ended until
     * their connection closed.
     */
    @Test
    void http3RequestsThatEndedLeaveNothingInFlightAndTheDrainEndsAtOnce() throws Exception {
        try (WorkerProcess worker = WorkerProcess.start(tmp.resolve("state"), "--drain-timeout", "30s")) {
            var cert = TlsMaterial.developmentCertificate(tmp.resolve("state"), java.time.Clock.systemUTC()).leaf();
            try (TestH3Client client = new TestH3Client(worker.port(), cert, 1 << 20)) {
                // 400 requests, 16 at a time, every response complete before the drain
                for (int round = 0; round < 25; round++) {
                    List<TestH3Client.Exchange> exchanges = new java.util.ArrayList<>();
                    for (int i = 0; i < 16; i++) {
                        exchanges.add(client.get("/healthz", true));
                    }
                    for (TestH3Client.Exchange exchange : exchanges) {
                        exchange.done.get(30, TimeUnit.SECONDS);
                        assertThat(exchange.headerFrames.get(0).status().toString()).isEqualTo("200");
                    }
                }
                long start = System.nanoTime();
                worker.terminate();
                assertThat(worker.awaitStderr(l -> l.contains("draining:"), Duration.ofSeconds(10)))
                        .as(worker.stderr()).contains("draining: 0 requests in flight, 1 QUIC");
                assertThat(worker.awaitExit(Duration.ofSeconds(40))).as(worker.stderr()).isZero();
                long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
                assertThat(millis).as("exit took %d ms with a 30s drain deadline and nothing in flight", millis)
                        .isLessThan(5_000);
                assertThat(worker.stderr()).doesNotContain("drain deadline");
            }
        }
    }

    /**
     * The end of a drain tells HTTP/3 clients and loses nothing: a download that finishes during the drain arrives
     * whole, and an idle client gets GOAWAY, then the server's close with H3_NO_ERROR once the 1 s grace for clients to
     * close is over, not its own idle timeout (30 s). Before, the drain ended the moment quiche took the response's
     * FIN (with up to a stream window still unsent) and closed the connections and the UDP socket at once: quiche
     * discards what it has not sent, and closing the socket dropped whatever was still queued there (in a reload under
     * load: 8 of 9 datagrams, the GOAWAY and CONNECTION_CLOSE of every connection), so clients waited for their idle
     * timeout.
     */
    @Test
    void aDownloadEndingDuringTheDrainArrivesWholeAndAnIdleClientIsToldGoAwayThenClosed() throws Exception {
        try (WorkerProcess worker = WorkerProcess.start(tmp.resolve("state"), "--drain-timeout", "30s")) {
            var cert = TlsMaterial.developmentCertificate(tmp.resolve("state"), java.time.Clock.systemUTC()).leaf();
            try (TestH3Client idle = new TestH3Client(worker.port(), cert, 1 << 20);
                 TestH3Client downloading = new TestH3Client(worker.port(), cert, 1 << 20)) {
                TestH3Client.Exchange first = idle.get("/healthz", true);
                first.done.get(30, TimeUnit.SECONDS);
                assertThat(first.headerFrames.get(0).status().toString()).isEqualTo("200");
                // 8 MiB through a 1 MiB stream window, not read until the drain has begun
                TestH3Client.Exchange download = downloading.get("/bytes/8m", false);
                worker.terminate();
                assertThat(worker.awaitStderr(l -> l.contains("draining:"), Duration.ofSeconds(10)))
                        .as(worker.stderr()).contains("draining: 1 requests in flight, 2 QUIC");
                TestH3Client.resume(download);
                download.done.get(20, TimeUnit.SECONDS);
                assertThat(download.headerFrames.get(0).status().toString()).isEqualTo("200");
                assertThat(download.bodyBytes.get()).isEqualTo(8L << 20);

                // its one request was stream 0: the GOAWAY names stream 4 as the first one not served
                assertThat(idle.goAway().get(10, TimeUnit.SECONDS)).isEqualTo(4);
                var close = idle.peerClose().get(10, TimeUnit.SECONDS);
                assertThat(close.isApplicationClose()).isTrue();
                assertThat(close.error()).as("H3_NO_ERROR").isEqualTo(0x100);
                assertThat(worker.awaitExit(Duration.ofSeconds(20))).as(worker.stderr()).isZero();
            }
        }
    }

    @Test
    void drainDeadlineCutsOffAStalledRequest() throws Exception {
        try (WorkerProcess worker = WorkerProcess.start(tmp.resolve("state"), "--drain-timeout", "1s");
             SSLSocket socket = (SSLSocket) TestClients.trusting(tmp.resolve("state/dev-cert.pem"))
                     .getSocketFactory().createSocket(InetAddress.getLoopbackAddress(), worker.port())) {
            SSLParameters params = socket.getSSLParameters();
            params.setApplicationProtocols(new String[] {"http/1.1"});
            socket.setSSLParameters(params);
            socket.startHandshake();
            // An upload that promises a megabyte and stalls after ten bytes: /echo waits for the rest.
            OutputStream out = socket.getOutputStream();
            out.write(("POST /echo HTTP/1.1\r\nhost: localhost\r\ncontent-length: 1000000\r\n\r\n0123456789")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            assertThat(worker.awaitStderr(l -> false, Duration.ofMillis(300))).isNull();

            long start = System.nanoTime();
            worker.terminate();
            assertThat(worker.awaitExit(Duration.ofSeconds(15))).as(worker.stderr()).isZero();
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertThat(millis).as("exit took %d ms with a 1s drain deadline", millis).isLessThan(10_000);
            assertThat(worker.stderr()).contains("draining: 1 requests in flight")
                    .contains("drain deadline of 1s passed with 1 requests still in flight");
        }
    }

    @Test
    void connectionsAcceptedJustBeforeTheDrainAreServedNotReset() throws Exception {
        try (WorkerProcess worker = WorkerProcess.start(tmp.resolve("state"), "--drain-timeout", "4s");
             Socket h1Tcp = new Socket(InetAddress.getLoopbackAddress(), worker.port());
             Socket h2Tcp = new Socket(InetAddress.getLoopbackAddress(), worker.port())) {
            // Both connections are accepted but have not started TLS when the drain begins: the race a rolling
            // reload runs into, made deterministic.
            assertThat(worker.awaitStderr(l -> false, Duration.ofMillis(300))).isNull();
            worker.terminate();
            assertThat(worker.awaitStderr(l -> l.contains("draining:"), Duration.ofSeconds(10)))
                    .as(worker.stderr()).contains("2 TCP connections");
            javax.net.ssl.SSLSocketFactory tls = TestClients.trusting(tmp.resolve("state/dev-cert.pem"))
                    .getSocketFactory();

            // HTTP/1.1: the request is served, with Connection: close.
            try (SSLSocket h1 = upgrade(tls, h1Tcp, worker.port(), "http/1.1")) {
                h1.getOutputStream().write("GET /whoami HTTP/1.1\r\nhost: localhost\r\n\r\n"
                        .getBytes(StandardCharsets.US_ASCII));
                String response = new String(h1.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
                assertThat(response).startsWith("HTTP/1.1 200").containsIgnoringCase("connection: close")
                        .contains("\"protocol\" : \"http/1.1\"");
            }

            // HTTP/2 (frames by hand, to see both GOAWAY frames): the stream the client opened after the first
            // GOAWAY's notice is served; the final GOAWAY names it; then the server closes the connection.
            try (SSLSocket h2 = upgrade(tls, h2Tcp, worker.port(), "h2")) {
                java.io.DataOutputStream out = new java.io.DataOutputStream(h2.getOutputStream());
                out.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                frame(out, 4, 0, 0, new byte[0]); // SETTINGS
                java.io.ByteArrayOutputStream block = new java.io.ByteArrayOutputStream();
                block.write(new byte[] {(byte) 0x82, (byte) 0x87}); // :method GET, :scheme https (static table)
                literal(block, 0x44, "/whoami"); // :path
                literal(block, 0x41, "localhost"); // :authority
                frame(out, 1, 0x05, 1, block.toByteArray()); // HEADERS, END_STREAM | END_HEADERS, stream 1
                out.flush();

                java.io.DataInputStream in = new java.io.DataInputStream(h2.getInputStream());
                List<Long> goAwayLastStreams = new java.util.ArrayList<>();
                java.io.ByteArrayOutputStream data = new java.io.ByteArrayOutputStream();
                boolean status200 = false;
                boolean ended = false;
                try {
                    while (true) {
                        int length = (in.readUnsignedShort() << 8) | in.readUnsignedByte();
                        int type = in.readUnsignedByte();
                        int flags = in.readUnsignedByte();
                        int stream = in.readInt() & 0x7fffffff;
                        byte[] payload = in.readNBytes(length);
                        if (type == 7) { // GOAWAY
                            goAwayLastStreams.add(java.nio.ByteBuffer.wrap(payload).getInt() & 0x7fffffffL);
                        } else if (type == 1 && stream == 1) {
                            status200 |= (payload[0] & 0xff) == 0x88; // :status 200, static table index 8
                        } else if (type == 0 && stream == 1) {
                            data.write(payload);
                            ended |= (flags & 1) != 0;
                        } else if (type == 4 && (flags & 1) == 0) {
                            frame(out, 4, 1, 0, new byte[0]); // SETTINGS ack
                            out.flush();
                        }
                    }
                } catch (java.io.EOFException | java.net.SocketTimeoutException done) {
                    // the drain deadline closes the connection (this client never closes it)
                }
                assertThat(status200).isTrue();
                assertThat(ended).isTrue();
                assertThat(data.toString(StandardCharsets.UTF_8)).contains("\"protocol\" : \"h2\"");
                assertThat(goAwayLastStreams).as("first GOAWAY admits every stream, the final one names stream 1")
                        .containsExactly((long) Integer.MAX_VALUE, 1L);
            }
            assertThat(worker.awaitExit(Duration.ofSeconds(20))).as(worker.stderr()).isZero();
        }
    }

    private static SSLSocket upgrade(javax.net.ssl.SSLSocketFactory tls, Socket tcp, int port, String alpn)
            throws java.io.IOException {
        SSLSocket socket = (SSLSocket) tls.createSocket(tcp, "localhost", port, true);
        SSLParameters params = socket.getSSLParameters();
        params.setApplicationProtocols(new String[] {alpn});
        socket.setSSLParameters(params);
        socket.setSoTimeout(15_000);
        socket.startHandshake();
        assertThat(socket.getApplicationProtocol()).isEqualTo(alpn);
        return socket;
    }

    private static void frame(java.io.DataOutputStream out, int type, int flags, int stream, byte[] payload)
            throws java.io.IOException {
        out.writeShort(payload.length >>> 8);
        out.writeByte(payload.length & 0xff);
        out.writeByte(type);
        out.writeByte(flags);
        out.writeInt(stream);
        out.write(payload);
    }

    /** An HPACK literal with incremental indexing and an indexed name; the value is short and not Huffman-coded. */
    private static void literal(java.io.ByteArrayOutputStream block, int prefix, String value) {
        block.write(prefix);
        block.write(value.length());
        block.writeBytes(value.getBytes(StandardCharsets.US_ASCII));
    }
}
