package dev.quicfleet.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quicfleet.worker.ClientTestWorker;
import dev.quicfleet.worker.Peers;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleResponse;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The reverse proxy in front of HTTP/2 upstreams the project did not write: nghttp2's {@code nghttpd} (Debian
 * nghttp2-server; {@code --echo-upload} sends a POST body back) over h2c and over TLS, and a grpc-java server (Maven
 * Central, with grpc-java's own {@code SimpleService} definition) over h2c. Each worker is a real JVM started with
 * {@code --upstream}. Clients: curl and nghttp over HTTP/2, grpc-java over HTTP/2 with TLS, and this module's
 * {@link H3Client} over HTTP/3 (gRPC's 5-byte message framing written and read here).
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class ProxyHttp2UpstreamIT {

    private static final int BIG = 16 << 20;
    private static final String SERVER_NAME = "upstream.test";
    private static final int STREAMED = 20;
    private static final int STREAMED_SIZE = 256 << 10;

    private static Path dir;
    private static Path big;
    private static String bigSha;
    private static Path upstreamCert;
    private static Path h2cLog;
    private static final List<Process> upstreams = new ArrayList<>();
    private static Server grpc;
    private static int tlsPort;
    private static ClientTestWorker h2cWorker;
    private static ClientTestWorker tlsWorker;
    private static ClientTestWorker grpcWorker;

    @BeforeAll
    static void start() throws Exception {
        for (String binary : List.of("/usr/sbin/nghttpd", "/usr/bin/nghttp", "/usr/bin/curl", "/usr/bin/openssl")) {
            Peers.requireInstalled(binary);
        }
        dir = Files.createTempDirectory("quicfleet-h2-upstream-");
        Path www = Files.createDirectories(dir.resolve("www"));
        big = www.resolve("big.bin");
        byte[] chunk = new byte[1 << 20];
        SplittableRandom random = new SplittableRandom(2);
        try (OutputStream out = Files.newOutputStream(big)) {
            for (int n = 0; n < BIG; n += chunk.length) {
                random.nextBytes(chunk);
                out.write(chunk);
            }
        }
        bigSha = sha256(Files.readAllBytes(big));
        try (RandomAccessFile huge = new RandomAccessFile(www.resolve("huge.bin").toFile(), "rw")) {
            huge.setLength(1L << 30); // sparse: a gibibyte to send, nothing on disk
        }
        upstreamCert = dir.resolve("upstream-cert.pem");
        Path upstreamKey = dir.resolve("upstream-key.pem");
        run(List.of("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", upstreamKey.toString(), "-out", upstreamCert.toString(), "-days", "2",
                "-subj", "/CN=" + SERVER_NAME, "-addext", "subjectAltName=DNS:" + SERVER_NAME));

        int h2cPort = freePort();
        h2cLog = dir.resolve("nghttpd-h2c.log");
        nghttpd(h2cLog, "-v", "--no-tls", "--echo-upload", "-a", "127.0.0.1", "-d", www.toString(),
                Integer.toString(h2cPort));
        tlsPort = freePort();
        nghttpd(dir.resolve("nghttpd-tls.log"), "--echo-upload", "-a", "127.0.0.1", "-d", www.toString(),
                Integer.toString(tlsPort), upstreamKey.toString(), upstreamCert.toString());
        grpc = NettyServerBuilder.forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                .addService(new SimpleService())
                .build()
                .start();
        awaitListening(h2cPort);
        awaitListening(tlsPort);

        h2cWorker = ClientTestWorker.start("--upstream", "h2c://127.0.0.1:" + h2cPort);
        tlsWorker = ClientTestWorker.start("--upstream", "https://127.0.0.1:" + tlsPort,
                "--upstream-ca", upstreamCert.toString(), "--upstream-server-name", SERVER_NAME);
        grpcWorker = ClientTestWorker.start("--upstream", "h2c://127.0.0.1:" + grpc.getPort());
    }

    @AfterAll
    static void stop() throws Exception {
        for (AutoCloseable worker : new AutoCloseable[] {h2cWorker, tlsWorker, grpcWorker}) {
            if (worker != null) {
                worker.close();
            }
        }
        if (grpc != null) {
            grpc.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
        }
        for (Process p : upstreams) {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        if (dir != null) {
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    // ---- GET and POST through nghttpd ----

    @Test
    void getAndPostThroughAnH2cUpstreamOverHttp2AndHttp3() throws Exception {
        getAndPost(h2cWorker);
    }

    @Test
    void getAndPostThroughATlsHttp2UpstreamOverHttp2AndHttp3() throws Exception {
        getAndPost(tlsWorker);
    }

    private void getAndPost(ClientTestWorker worker) throws Exception {
        Path got = dir.resolve("got-" + worker.port());
        Curl get = curl(worker, "-o", got.toString(), "-w", "%{http_code} %{http_version}", url(worker, "/big.bin"));
        assertThat(get.stdout).as(get.stderr).isEqualTo("200 2");
        assertThat(sha256(Files.readAllBytes(got))).as("GET over HTTP/2").isEqualTo(bigSha);
        Curl post = curl(worker, "--data-binary", "@" + big, "-o", got.toString(), "-w", "%{http_code}",
                url(worker, "/echo"));
        assertThat(post.stdout).as(post.stderr).isEqualTo("200");
        assertThat(sha256(Files.readAllBytes(got))).as("POST over HTTP/2, echoed by nghttpd").isEqualTo(bigSha);
        Files.delete(got);

        try (H3Client client = H3Client.builder().trust(worker.certificate()).build()) {
            H3Response<byte[]> h3get = client.request(H3Request.get(url(worker, "/big.bin")),
                    BodyHandler.ofByteArray(BIG + 1));
            assertThat(h3get.status()).isEqualTo(200);
            assertThat(sha256(h3get.body())).as("GET over HTTP/3").isEqualTo(bigSha);
            H3Response<byte[]> h3post = client.request(H3Request.builder(URI.create(url(worker, "/echo")))
                    .method("POST").body(RequestBody.ofFile(big)).build(), BodyHandler.ofByteArray(BIG + 1));
            assertThat(h3post.status()).isEqualTo(200);
            assertThat(sha256(h3post.body())).as("POST over HTTP/3, echoed by nghttpd").isEqualTo(bigSha);
        }
    }

    @Test
    void aClientThatStopsReadingStopsTheH2cUpstreamThroughFlowControl() throws Exception {
        try (H3Client client = H3Client.builder().trust(h2cWorker.certificate()).build()) {
            H3Response<InputStream> response = client.request(H3Request.get(url(h2cWorker, "/huge.bin?stalled")),
                    BodyHandler.ofInputStream());
            assertThat(response.status()).isEqualTo(200);
            assertThat(response.body().read()).isZero(); // one byte, then the client reads no more
            // What nghttpd sent on that stream (its -v log counts every DATA frame) grows until the windows on the
            // way are full, then stops: wait until it has not grown for a second (bounded), then bound it.
            long sent = -1;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (true) {
                TimeUnit.SECONDS.sleep(1); // the condition is "no growth for a second": it has no event to wait on
                long now = upstreamSent("/huge.bin?stalled");
                if (now == sent || System.nanoTime() - deadline > 0) {
                    break;
                }
                sent = now;
            }
            assertThat(sent).as("bytes nghttpd sent of a 1 GiB response to a client that stopped reading")
                    .isPositive().isLessThan(32L << 20);
            response.body().close();
        }
    }

    /** Bytes of DATA nghttpd (h2c, {@code -v}) sent on the stream that asked for {@code path}. */
    private static long upstreamSent(String path) throws IOException {
        String log = Files.readString(h2cLog);
        Matcher request = Pattern.compile("\\[id=(\\d+)\\] \\[[^\\]]*\\] recv \\(stream_id=(\\d+)\\) :path: "
                + Pattern.quote(path) + "\\n").matcher(log);
        assertThat(request.find()).as("nghttpd logged the request for %s", path).isTrue();
        Matcher data = Pattern.compile("\\[id=" + request.group(1) + "\\] \\[[^\\]]*\\] send DATA frame "
                + "<length=(\\d+), flags=0x[0-9a-f]+, stream_id=" + request.group(2) + ">").matcher(log);
        long sum = 0;
        while (data.find()) {
            sum += Long.parseLong(data.group(1));
        }
        return sum;
    }

    @Test
    void requestTrailersFromAnHttp2ClientReachTheH2cUpstream() throws Exception {
        Path small = dir.resolve("small.bin");
        Files.write(small, new byte[100_000]);
        Run nghttp = run(List.of("nghttp", "--trailer", "x-checksum: quicfleet-42", "-d", small.toString(),
                url(h2cWorker, "/echo?trailers")));
        assertThat(nghttp.exit).as(nghttp.stderr).isZero();
        // nghttpd -v logs every field it receives, trailers after the DATA frames.
        String log = Files.readString(h2cLog);
        assertThat(log).contains("x-checksum: quicfleet-42");
    }

    @Test
    void requestTrailersFromAnHttp3ClientReachTheH2cUpstream() throws Exception {
        Path small = dir.resolve("small-h3.bin");
        Files.write(small, new byte[100_000]);
        try (H3Client client = H3Client.builder().trust(h2cWorker.certificate()).build()) {
            // a streamed body (its end is written from the upload thread) and a body of bytes (written at once)
            for (RequestBody body : List.of(RequestBody.ofFile(small), RequestBody.of(new byte[5_000]))) {
                String tag = body.length() == 5_000 ? "bytes" : "streamed";
                H3Response<byte[]> post = client.request(H3Request.builder(URI.create(url(h2cWorker,
                        "/echo?h3-trailers-" + tag))).method("POST").body(body)
                        .trailer("X-Checksum", "quicfleet-h3-" + tag).build(), BodyHandler.ofByteArray(1 << 20));
                assertThat(post.status()).isEqualTo(200);
                assertThat(post.body()).as("echoed by nghttpd").hasSize((int) body.length());
            }
        }
        // nghttpd -v logs every field it receives, trailers after the DATA frames.
        String log = Files.readString(h2cLog);
        assertThat(log).contains("x-checksum: quicfleet-h3-streamed").contains("x-checksum: quicfleet-h3-bytes");
    }

    @Test
    void aTlsUpstreamWhoseCertificateTheJdkDoesNotTrustGets502() throws Exception {
        try (ClientTestWorker untrusting = ClientTestWorker.start("--upstream", "https://127.0.0.1:" + tlsPort,
                "--upstream-server-name", SERVER_NAME)) {
            Curl get = curl(untrusting, "-w", "\n%{http_code}", url(untrusting, "/big.bin"));
            assertThat(get.stdout).as(get.stderr).endsWith("\n502").contains("certification path");
        }
    }

    // ---- gRPC through to grpc-java ----

    @Test
    void grpcUnaryServerStreamingAndErrorStatusOverHttp2() throws Exception {
        ManagedChannel channel = NettyChannelBuilder.forAddress("localhost", grpcWorker.port())
                .sslContext(GrpcSslContexts.forClient().trustManager(grpcWorker.certificate().toFile()).build())
                .build();
        try {
            SimpleServiceGrpc.SimpleServiceBlockingStub stub = SimpleServiceGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(30, TimeUnit.SECONDS);
            assertThat(stub.unaryRpc(request("h2")).getResponseMessage()).isEqualTo("hello h2");

            Iterator<SimpleResponse> parts = stub.serverStreamingRpc(request("stream"));
            int n = 0;
            while (parts.hasNext()) {
                SimpleResponse part = parts.next();
                assertThat(part.getResponseMessage()).startsWith("part " + n + " ").hasSize(STREAMED_SIZE);
                n++;
            }
            assertThat(n).as("messages, then grpc-status 0 in the trailers").isEqualTo(STREAMED);

            assertThatThrownBy(() -> stub.unaryRpc(request("fail:no such thing")))
                    .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
                        assertThat(e.getStatus().getDescription()).isEqualTo("no such thing");
                    });
        } finally {
            channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void grpcUnaryAndServerStreamingOverHttp3WithTrailers() throws Exception {
        try (H3Client client = H3Client.builder().trust(grpcWorker.certificate()).build()) {
            H3Response<byte[]> unary = client.request(grpcRequest("UnaryRpc", request("h3")),
                    BodyHandler.ofByteArray(1 << 20));
            assertThat(unary.status()).isEqualTo(200);
            assertThat(unary.header("content-type")).contains("application/grpc");
            assertThat(messages(unary.body())).extracting(SimpleResponse::getResponseMessage)
                    .containsExactly("hello h3");
            assertThat(field(unary.trailers(), "grpc-status")).as("trailers %s", unary.trailers()).isEqualTo("0");

            H3Response<byte[]> stream = client.request(grpcRequest("ServerStreamingRpc", request("stream")),
                    BodyHandler.ofByteArray(64 << 20));
            assertThat(stream.status()).isEqualTo(200);
            List<SimpleResponse> parts = messages(stream.body());
            assertThat(parts).hasSize(STREAMED);
            assertThat(parts.get(STREAMED - 1).getResponseMessage()).startsWith("part " + (STREAMED - 1) + " ");
            assertThat(field(stream.trailers(), "grpc-status")).isEqualTo("0");

            // An error before any message: grpc-java answers "trailers only" (one HEADERS frame that ends the stream).
            H3Response<byte[]> failed = client.request(grpcRequest("UnaryRpc", request("fail:bad h3")),
                    BodyHandler.ofByteArray(1 << 20));
            assertThat(failed.status()).isEqualTo(200);
            List<Map.Entry<String, String>> fields = new ArrayList<>(failed.headers());
            fields.addAll(failed.trailers());
            assertThat(field(fields, "grpc-status")).isEqualTo(Integer.toString(Status.Code.INVALID_ARGUMENT.value()));
            assertThat(field(fields, "grpc-message")).isEqualTo("bad h3");
        }
    }

    @Test
    void grpcTrailersReachAnHttp11ClientOnlyWhenItSentTeTrailers() throws Exception {
        Path call = dir.resolve("unary-h1.bin");
        Files.write(call, framed(request("h1")));
        String url = url(grpcWorker, "/grpc.testing.SimpleService/UnaryRpc");
        Path head = dir.resolve("h1-head.txt");
        Path body = dir.resolve("h1-body.bin");
        Curl with = curl(grpcWorker, "--http1.1", "-H", "content-type: application/grpc", "-H", "te: trailers",
                "--data-binary", "@" + call, "-D", head.toString(), "-o", body.toString(), url);
        assertThat(with.stderr).isEmpty();
        String fields = Files.readString(head).toLowerCase();
        assertThat(fields).contains("transfer-encoding: chunked", "grpc-status: 0");
        assertThat(messages(Files.readAllBytes(body))).extracting(SimpleResponse::getResponseMessage)
                .containsExactly("hello h1");

        Curl without = curl(grpcWorker, "--http1.1", "-H", "content-type: application/grpc",
                "--data-binary", "@" + call, "-D", head.toString(), "-o", body.toString(), url);
        assertThat(without.stderr).isEmpty();
        assertThat(Files.readString(head).toLowerCase()).as("no TE: trailers, no trailers")
                .doesNotContain("grpc-status");
        assertThat(messages(Files.readAllBytes(body))).extracting(SimpleResponse::getResponseMessage)
                .containsExactly("hello h1");
    }

    @Test
    void anUpstreamThatStopsReadingStopsTheClientsUpload() throws Exception {
        // 64 MiB of gRPC messages to a client-streaming call whose server never asks for one: grpc-java returns no
        // flow-control window, so the proxy must stop pulling from the client.
        Path upload = dir.resolve("upload.bin");
        byte[] message = framed(SimpleRequest.newBuilder().setRequestMessage("x".repeat(64 << 10)).build());
        try (OutputStream out = Files.newOutputStream(upload)) {
            for (long n = 0; n < 64L << 20; n += message.length) {
                out.write(message);
            }
        }
        Curl stalled = curl(grpcWorker, "-H", "content-type: application/grpc", "-H", "te: trailers",
                "--data-binary", "@" + upload, "--max-time", "8", "-o", "/dev/null", "-w", "%{size_upload}",
                url(grpcWorker, "/grpc.testing.SimpleService/ClientStreamingRpc"));
        assertThat(stalled.stderr).as("curl gave up waiting").contains("timed out");
        assertThat(Long.parseLong(stalled.stdout.trim())).as("bytes curl uploaded of 64 MiB")
                .isPositive().isLessThan(24L << 20);
        Files.delete(upload);
    }

    // ---- the upstream's service ----

    /** grpc-java's test service: hello, a stream of large messages, and an error on request. */
    private static final class SimpleService extends SimpleServiceGrpc.SimpleServiceImplBase {
        @Override
        public void unaryRpc(SimpleRequest request, StreamObserver<SimpleResponse> responses) {
            String message = request.getRequestMessage();
            if (message.startsWith("fail:")) {
                responses.onError(Status.INVALID_ARGUMENT.withDescription(message.substring(5)).asRuntimeException());
                return;
            }
            responses.onNext(SimpleResponse.newBuilder().setResponseMessage("hello " + message).build());
            responses.onCompleted();
        }

        @Override
        public StreamObserver<SimpleRequest> clientStreamingRpc(StreamObserver<SimpleResponse> responses) {
            // Never asks for a message: the call's flow-control window is never returned (the stalled upload test).
            ((ServerCallStreamObserver<SimpleResponse>) responses).disableAutoRequest();
            return new StreamObserver<>() {
                @Override
                public void onNext(SimpleRequest request) {
                }

                @Override
                public void onError(Throwable t) {
                }

                @Override
                public void onCompleted() {
                    responses.onCompleted();
                }
            };
        }

        @Override
        public void serverStreamingRpc(SimpleRequest request, StreamObserver<SimpleResponse> responses) {
            for (int i = 0; i < STREAMED; i++) {
                StringBuilder text = new StringBuilder("part " + i + " ");
                while (text.length() < STREAMED_SIZE) {
                    text.append((char) ('a' + text.length() % 26));
                }
                responses.onNext(SimpleResponse.newBuilder().setResponseMessage(text.toString()).build());
            }
            responses.onCompleted();
        }
    }

    private static SimpleRequest request(String message) {
        return SimpleRequest.newBuilder().setRequestMessage(message).build();
    }

    /** A gRPC call as an HTTP/3 request: {@code application/grpc}, {@code te: trailers}, one framed message. */
    private static H3Request grpcRequest(String method, SimpleRequest message) {
        return H3Request.builder(URI.create(url(grpcWorker, "/grpc.testing.SimpleService/" + method)))
                .method("POST")
                .header("content-type", "application/grpc")
                .header("te", "trailers")
                .body(RequestBody.of(framed(message)))
                .build();
    }

    /** One gRPC length-prefixed message: an uncompressed flag, the length (4 bytes, big-endian), the bytes. */
    private static byte[] framed(SimpleRequest message) {
        byte[] payload = message.toByteArray();
        return ByteBuffer.allocate(5 + payload.length).put((byte) 0).putInt(payload.length).put(payload).array();
    }

    /** The length-prefixed messages of a gRPC response body. */
    private static List<SimpleResponse> messages(byte[] body) throws IOException {
        List<SimpleResponse> out = new ArrayList<>();
        ByteBuffer in = ByteBuffer.wrap(body);
        while (in.hasRemaining()) {
            assertThat(in.get()).as("compressed flag").isZero();
            byte[] message = new byte[in.getInt()];
            in.get(message);
            out.add(SimpleResponse.parseFrom(message));
        }
        return out;
    }

    private static String field(List<Map.Entry<String, String>> fields, String name) {
        return fields.stream().filter(f -> f.getKey().equals(name)).map(Map.Entry::getValue).findFirst()
                .orElse(null);
    }

    // ---- processes ----

    private static String url(ClientTestWorker worker, String path) {
        return "https://localhost:" + worker.port() + path;
    }

    private record Run(int exit, String stdout, String stderr) {
    }

    private record Curl(String stdout, String stderr) {
    }

    private static Curl curl(ClientTestWorker worker, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("curl", "-sS", "--http2",
                "--cacert", worker.certificate().toString()));
        command.addAll(List.of(args));
        if (!command.contains("--max-time")) {
            command.addAll(List.of("--max-time", "120"));
        }
        Run run = run(command);
        return new Curl(run.stdout, run.stderr);
    }

    private static Run run(List<String> command) throws Exception {
        Path out = Files.createTempFile(dir, "out-", ".txt");
        Path err = Files.createTempFile(dir, "err-", ".txt");
        Process process = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        try {
            assertThat(process.waitFor(150, TimeUnit.SECONDS)).as("%s finished", command).isTrue();
            return new Run(process.exitValue(), Files.readString(out), Files.readString(err));
        } finally {
            process.destroyForcibly();
            Files.delete(out);
            Files.delete(err);
        }
    }

    private static void nghttpd(Path log, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of("nghttpd"));
        command.addAll(List.of(args));
        upstreams.add(new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start());
    }

    private static int freePort() throws IOException {
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return probe.getLocalPort();
        }
    }

    /** Waits (bounded) until something accepts connections on 127.0.0.1:{@code port}. */
    private static void awaitListening(int port) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (true) {
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1000);
                return;
            } catch (IOException notYet) {
                for (Process p : upstreams) {
                    assertThat(p.isAlive()).as("nghttpd exited early: %s", p.info()).isTrue();
                }
                if (System.nanoTime() - deadline > 0) {
                    throw new AssertionError("nothing listens on 127.0.0.1:" + port + " after 20s");
                }
                TimeUnit.MILLISECONDS.sleep(20); // polling a port: the condition has no event to wait on
            }
        }
    }

    private static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }
}
