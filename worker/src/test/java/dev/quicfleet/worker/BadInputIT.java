package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quicfleet.http.Request;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Bad input of every kind gets a clear answer and never disturbs good traffic. */
class BadInputIT {

    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    @RegisterExtension
    static RunningWorker worker = new RunningWorker();

    @Test
    void malformedDatagramsDoNotDisturbAConcurrentDownload() throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger sent = new AtomicInteger();
        CompletableFuture<Void> flood = CompletableFuture.runAsync(() -> {
            Random random = new Random(1);
            try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress(LOOPBACK, 0))) {
                InetSocketAddress target = new InetSocketAddress(LOOPBACK, worker.port());
                // bounded in count and time
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                while (!stop.get() && sent.get() < 50_000 && System.nanoTime() < deadline) {
                    byte[] datagram = badDatagram(random, sent.get());
                    socket.send(new DatagramPacket(datagram, datagram.length, target));
                    sent.incrementAndGet();
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        Path dir = worker.scratch("flooded");
        try {
            Peers.Run run = Peers.gtlsclient(worker.port(), List.of("-q", "--download", dir.toString()),
                    Duration.ofSeconds(60), "/bytes/20m");
            assertThat(run.stderrText()).doesNotContain("ERR_");
        } finally {
            stop.set(true);
            flood.get(30, TimeUnit.SECONDS);
        }
        assertThat(sent.get()).isGreaterThan(100);
        assertThat(Files.size(dir.resolve("20m"))).isEqualTo(20L << 20);
        assertThat(worker.process().isAlive()).isTrue();
        Peers.Run after = Peers.gtlsclient(worker.port(), List.of("-q", "--download", dir.toString()),
                Duration.ofSeconds(30), "/healthz");
        assertThat(Files.readString(dir.resolve("healthz"))).as(after.stderrText()).isEqualTo("ok\n");
    }

    /** Random junk, truncated and inconsistent QUIC headers, unknown versions, short headers for no connection. */
    static byte[] badDatagram(Random random, int n) {
        switch (n % 7) {
            case 0: { // random bytes of random length
                byte[] b = new byte[1 + random.nextInt(1400)];
                random.nextBytes(b);
                return b;
            }
            case 1: { // long header (Initial, v1) truncated anywhere in its first 30 bytes
                byte[] b = new byte[1 + random.nextInt(30)];
                random.nextBytes(b);
                b[0] = (byte) 0xc0;
                if (b.length >= 5) {
                    ByteBuffer.wrap(b, 1, 4).putInt(1);
                }
                return b;
            }
            case 2: { // Initial v1 with a DCID length above the 20-byte maximum
                ByteBuffer b = ByteBuffer.allocate(1200);
                b.put((byte) 0xc3).putInt(1).put((byte) 200);
                byte[] rest = new byte[b.remaining()];
                random.nextBytes(rest);
                return b.put(rest).array();
            }
            case 3: { // Initial v1 with a length field far beyond the datagram
                ByteBuffer b = ByteBuffer.allocate(1200);
                b.put((byte) 0xc3).putInt(1).put((byte) 8).putLong(random.nextLong()).put((byte) 8)
                        .putLong(random.nextLong()).put((byte) 0).putShort((short) 0x7fff);
                byte[] rest = new byte[b.remaining()];
                random.nextBytes(rest);
                return b.put(rest).array();
            }
            case 4: { // unknown version, big enough to trigger version negotiation
                ByteBuffer b = ByteBuffer.allocate(1200);
                b.put((byte) 0xc0).putInt(0x1a2a3a4a).put((byte) 8).putLong(random.nextLong()).put((byte) 8)
                        .putLong(random.nextLong());
                return b.array();
            }
            case 5: { // short header for a connection nobody has
                byte[] b = new byte[30 + random.nextInt(1200)];
                random.nextBytes(b);
                b[0] = (byte) (0x40 | (b[0] & 0x3f));
                return b;
            }
            default: // a lone byte
                return new byte[] {(byte) random.nextInt(256)};
        }
    }

    @Test
    void malformedHttp1RequestGetsBadRequestWhileOthersAreServed() throws Exception {
        HttpClient client = TestClients.http(worker.stateDir(), HttpClient.Version.HTTP_2);
        CompletableFuture<HttpResponse<String>> good = client.sendAsync(HttpRequest.newBuilder(
                        URI.create("https://localhost:" + worker.port() + "/sse")).timeout(Duration.ofSeconds(30))
                .build(), HttpResponse.BodyHandlers.ofString());

        assertThat(rawHttp1("THIS IS NOT HTTP\r\n\r\n")).startsWith("HTTP/1.1 400 Bad Request");
        String hugeHeader = "GET / HTTP/1.1\r\nhost: localhost\r\nx-big: " + "a".repeat(40_000) + "\r\n\r\n";
        assertThat(rawHttp1(hugeHeader)).startsWith("HTTP/1.1 431 Request Header Fields Too Large");
        String hugeLine = "GET /" + "a".repeat(20_000) + " HTTP/1.1\r\nhost: localhost\r\n\r\n";
        assertThat(rawHttp1(hugeLine)).startsWith("HTTP/1.1 414 Request-URI Too Long");

        HttpResponse<String> response = good.get(30, TimeUnit.SECONDS);
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).contains("event: done");
    }

    /** Sends {@code request} over TLS (ALPN http/1.1) and returns everything the worker answers. */
    private static String rawHttp1(String request) throws Exception {
        var factory = TestClients.trusting(worker.stateDir().resolve("dev-cert.pem")).getSocketFactory();
        try (SSLSocket socket = (SSLSocket) factory.createSocket(LOOPBACK, worker.port())) {
            socket.setSoTimeout(10_000);
            SSLParameters params = socket.getSSLParameters();
            params.setApplicationProtocols(new String[] {"http/1.1"});
            params.setServerNames(List.of(new javax.net.ssl.SNIHostName("localhost")));
            socket.setSSLParameters(params);
            socket.startHandshake();
            OutputStream out = socket.getOutputStream();
            out.write(request.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            InputStream in = socket.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    @Test
    void badFlagsExitWithTwoNamingTheOption() throws Exception {
        assertStartFails(List.of("--port", "abc"), "Invalid value for option '--port': 'abc' is not an int");
        assertStartFails(List.of("--quic-max-udp-payload", "100"),
                "error: quic-max-udp-payload: 100 (expected: 1200..65527)");
        assertStartFails(List.of("--drain-timeout", "soon"),
                "error: drain-timeout: soon (expected: a duration such as 500ms, 30s, 5m, 1h or PT30S)");
        assertStartFails(List.of("--transport", "kqueue"), "error: transport: kqueue (expected: io_uring, epoll, nio)");
        assertStartFails(List.of("--no-such-flag"), "Unknown option: '--no-such-flag'");
    }

    @Test
    void missingCertificateExitsWithTwoAndOneClearLine() throws Exception {
        Path missing = worker.file("nope/cert.pem");
        WorkerProcess failed = assertStartFails(List.of("--cert", missing.toString(), "--key", missing.toString()),
                "error: certificate file not found: " + missing);
        assertThat(failed.stderr().lines().filter(l -> l.startsWith("error:")).count()).isEqualTo(1);
        assertThat(failed.stderr()).doesNotContain("Exception").doesNotContain("\tat ");
    }

    @Test
    void mismatchedOrExpiredCertificateExitsWithTwo() throws Exception {
        Instant now = Instant.now();
        KeyPair keys = TestCertificates.ecP256();
        KeyPair other = TestCertificates.ecP256();
        X509Certificate valid = TestCertificates.selfSigned(keys, "localhost", now.minusSeconds(3600),
                now.plusSeconds(86_400));
        X509Certificate expired = TestCertificates.selfSigned(keys, "localhost", now.minusSeconds(7 * 86_400),
                now.minusSeconds(86_400));
        Path cert = TestCertificates.writeCertificates(worker.file("valid.pem"), valid);
        Path oldCert = TestCertificates.writeCertificates(worker.file("expired.pem"), expired);
        Path wrongKey = TestCertificates.writePkcs8(worker.file("other-key.pem"), other.getPrivate());
        Path key = TestCertificates.writePkcs8(worker.file("key.pem"), keys.getPrivate());

        assertStartFails(List.of("--cert", cert.toString(), "--key", wrongKey.toString()), "does not match");
        assertStartFails(List.of("--cert", oldCert.toString(), "--key", key.toString()), "expired on");
    }

    @Test
    void udpPortInUseExitsWithTwoNamingTheAddress() throws Exception {
        try (DatagramSocket taken = new DatagramSocket(new InetSocketAddress(LOOPBACK, 0))) {
            int port = taken.getLocalPort();
            assertStartFails(List.of("--port", Integer.toString(port)), "error: failed to bind UDP 127.0.0.1:"
                    + port + ": address already in use (another process holds this port: stop it or choose another "
                    + "--port)");
        }
    }

    @Test
    void tcpPortInUseExitsWithTwoNamingTheAddress() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, LOOPBACK)) {
            int port = taken.getLocalPort();
            assertStartFails(List.of("--port", Integer.toString(port)), "error: failed to bind TCP 127.0.0.1:"
                    + port + ": address already in use");
        }
    }

    private static WorkerProcess assertStartFails(List<String> args, String message) throws Exception {
        try (WorkerProcess failed = WorkerProcess.launch(worker.stateDir(), args.toArray(String[]::new))) {
            int exit = failed.awaitExit(Duration.ofSeconds(60));
            assertThat(exit).as("exit code for %s; stderr: %s", args, failed.stderr()).isEqualTo(2);
            assertThat(failed.stderr()).contains(message);
            assertThat(failed.stdout()).doesNotContain("ready:");
            return failed;
        }
    }
}
