package dev.quicfleet.worker;

import static dev.quicfleet.worker.EventLoopServicesTest.awaitTrue;
import static dev.quicfleet.worker.EventLoopServicesTest.http1Get;
import static dev.quicfleet.worker.EventLoopServicesTest.mostDirectMemoryUntil;
import static dev.quicfleet.worker.EventLoopServicesTest.usedDirectMemory;
import static dev.quicfleet.worker.EventLoopServicesTest.virtualThreadsStartedWhile;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.quicfleet.http.Router;
import dev.quicfleet.metrics.HttpProtocol;
import dev.quicfleet.metrics.TimeoutReason;
import dev.quicfleet.proxy.ProxyConfig;
import dev.quicfleet.proxy.ProxyService;
import dev.quicfleet.worker.log.AccessLogFormat;
import dev.quicfleet.worker.tls.TlsMaterial;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http3.DefaultHttp3DataFrame;
import io.netty.handler.codec.quic.QuicStreamChannel;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The reverse proxy in front of a real upstream the project did not write: Debian's nginx on loopback, with its own
 * configuration from this test. A worker in this JVM proxies to it; the clients are the independent ngtcp2 client
 * (HTTP/3), curl (HTTP/2 and HTTP/1.1) and, where a test must stop reading or count threads, Netty's HTTP/3 client and
 * a raw TLS socket. What the upstream received is read from nginx's access log (forwarding headers, body lengths)
 * and from the request bodies nginx stored (their sha256); nginx logs an absent header as {@code -}.
 */
class ReverseProxyIT {

    private static final long BIG = 100L << 20;
    private static final long GIB = 1L << 30;
    private static final Duration BODY_TIMEOUT = Duration.ofSeconds(3);
    private static final Duration SHORT = Duration.ofSeconds(2);
    private static final long SSE_PAUSE_MILLIS = 400;

    /** One access-log line per request: what nginx received, field by field. */
    private static final String LOG_FORMAT = "$request_method $request_uri|xff=$http_x_forwarded_for"
            + "|xfp=$http_x_forwarded_proto|xfh=$http_x_forwarded_host|host=$http_host|early=$http_early_data"
            + "|conn=$http_connection|te=$http_te|ka=$http_keep_alive|up=$http_upgrade|pc=$http_proxy_connection"
            + "|hop=$http_x_hop|len=$http_content_length|tenc=$http_transfer_encoding|body=$request_body_file"
            + "|status=$status|connection=$connection|sent=$bytes_sent|";

    private static final String LOCATIONS = """
            location = /hello { return 200 "hello from nginx\\n"; }
            location /files/ { alias $DIR/www/; }
            location /big/ { alias $DIR/www/; }
            location = /upload {
              client_body_in_file_only on;
              echo_read_request_body;
              echo "stored";
            }
            location = /sse {
              default_type text/event-stream;
              echo "data: 0"; echo ""; echo_flush; echo_sleep %1$s;
              echo "data: 1"; echo ""; echo_flush; echo_sleep %1$s;
              echo "data: 2"; echo ""; echo_flush; echo_sleep %1$s;
              echo "data: 3"; echo "";
            }
            location = /slow { echo_sleep 30; echo "late"; }
            location = /stall { echo "first"; echo_flush; echo_sleep 30; echo "late"; }
            location = /hop {
              add_header X-Secret "for the next hop only";
              add_header Connection "X-Secret";
              add_header Keep-Alive "timeout=99";
              add_header Upgrade "h2c";
              add_header Alt-Svc 'h3=":9999"; ma=60';
              return 200 "hop\\n";
            }
            location = /reset { return 444; }
            location /pool/ { return 200 "pool\\n"; }
            """.formatted(SSE_PAUSE_MILLIS / 1000.0);

    private static Path dir;
    private static Path big;
    private static String bigSha;
    private static Nginx nginx;
    private static ProxyService bigProxy;
    private static ProxyService poolProxy;
    private static Worker worker;
    private static int deadPort;
    private static ServerSocket sink;
    private static ServerSocket full;
    private static final List<Socket> sinkConnections = new CopyOnWriteArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("quicfleet-proxy-");
        Path www = Files.createDirectories(dir.resolve("www"));
        big = www.resolve("100m.bin");
        byte[] chunk = new byte[1 << 20];
        SplittableRandom random = new SplittableRandom(13);
        try (OutputStream out = Files.newOutputStream(big)) {
            for (long n = 0; n < BIG; n += chunk.length) {
                random.nextBytes(chunk);
                out.write(chunk);
            }
        }
        bigSha = sha256(big);
        try (RandomAccessFile file = new RandomAccessFile(www.resolve("1g.bin").toFile(), "rw")) {
            file.setLength(GIB); // sparse: a gibibyte to send, nothing on disk
        }
        nginx = Nginx.start(dir, LOG_FORMAT, LOCATIONS);
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            deadPort = probe.getLocalPort(); // closed again: connections to it are refused
        }
        String dead = "http://127.0.0.1:" + deadPort;
        // An upstream whose accept queue is full (backlog 1, never accepting, two connections in it): the kernel
        // drops further connection attempts, which then time out.
        full = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        for (int i = 0; i < 2; i++) {
            Socket filler = new Socket();
            filler.connect(full.getLocalSocketAddress(), 5_000);
            sinkConnections.add(filler);
        }
        // An upstream that never reads: a socket that accepts and holds connections (nothing can read by accident).
        sink = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread.ofPlatform().daemon().name("sink-upstream").start(() -> {
            try {
                while (true) {
                    sinkConnections.add(sink.accept()); // held open, never read
                }
            } catch (IOException closed) {
                // the test is over
            }
        });
        ProxyService main = new ProxyService(ProxyConfig.builder(nginx.url()).build());
        ProxyService impatient = new ProxyService(ProxyConfig.builder(nginx.url())
                .responseTimeout(SHORT).idleTimeout(SHORT).build());
        bigProxy = new ProxyService(ProxyConfig.builder(nginx.url()).build());
        poolProxy = new ProxyService(ProxyConfig.builder(dead, nginx.url())
                .passiveHealth(2, Duration.ofMinutes(1)).build());
        Router router = Router.builder()
                .route("/", main)
                .route("/slow", impatient)
                .route("/stall", impatient)
                .route("/sink", new ProxyService(ProxyConfig.builder("http://127.0.0.1:" + sink.getLocalPort())
                        .responseTimeout(SHORT).idleTimeout(SHORT).build()))
                .route("/big", bigProxy)
                .route("/dead", new ProxyService(ProxyConfig.builder(dead).build()))
                .route("/pool", poolProxy)
                .route("/full", new ProxyService(ProxyConfig.builder("http://127.0.0.1:" + full.getLocalPort())
                        .connectTimeout(Duration.ofMillis(500)).build()))
                .build();
        worker = new Worker(WorkerConfig.builder()
                .address(InetAddress.getLoopbackAddress())
                .port(0)
                .stateDir(dir.resolve("state"))
                .bodyTimeout(BODY_TIMEOUT)
                .accessLog(dir.resolve("worker-access.log").toString(), AccessLogFormat.JSON)
                .build(), router);
        worker.start().join();
    }

    @AfterAll
    static void stop() throws IOException {
        try {
            if (worker != null) {
                worker.stop().join();
            }
        } finally {
            if (sink != null) {
                sink.close();
            }
            if (full != null) {
                full.close();
            }
            for (Socket socket : sinkConnections) {
                socket.close();
            }
            if (nginx != null) {
                nginx.close();
            }
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    // ---- GET, HEAD, POST over the three protocols ----

    @Test
    void http3GetHeadAndPostThroughNgtcp2() throws Exception {
        Path got = Files.createDirectories(dir.resolve("h3-get"));
        Peers.Run get = Peers.gtlsclient(worker.port(), List.of("-q", "--download", got.toString()),
                Duration.ofSeconds(120), "/files/100m.bin", "/hello");
        assertThat(got.resolve("hello")).as(get.stderrText()).hasContent("hello from nginx");
        assertThat(sha256(got.resolve("100m.bin"))).as("the 100 MiB file through HTTP/3").isEqualTo(bigSha);

        Path head = Files.createDirectories(dir.resolve("h3-head"));
        Peers.Run headRun = Peers.gtlsclient(worker.port(), List.of("--no-quic-dump", "--no-http-dump", "-m", "HEAD",
                "--download", head.toString()), Duration.ofSeconds(30), "/files/100m.bin?h3-head");
        assertThat(headRun.stderrText()).containsPattern("(?i)content-length: " + BIG);
        assertThat(upstreamLine("HEAD /files/100m.bin?h3-head")).contains("|status=200|");
        try (Stream<Path> files = Files.list(head)) {
            assertThat(files.mapToLong(ReverseProxyIT::size).sum()).as("HEAD body bytes").isZero();
        }

        Peers.gtlsclient(worker.port(), List.of("-q", "-m", "POST", "-d", big.toString(), "--download",
                Files.createDirectories(dir.resolve("h3-post")).toString()), Duration.ofSeconds(120),
                "/upload?h3-post");
        String line = upstreamLine("POST /upload?h3-post");
        assertThat(line).contains("|len=" + BIG + "|", "|status=200|");
        assertThat(sha256(storedBody(line))).as("the 100 MiB body nginx stored").isEqualTo(bigSha);
    }

    @Test
    void http2GetHeadPostAndAnUploadWithoutLengthThroughCurl() throws Exception {
        getHeadPost("--http2", "h2");
        // curl uploads a pipe over HTTP/2 without content-length: the proxy streams it chunked.
        Curl upload = curl(big, "--http2", "-X", "POST", "-T", "-", url("/upload?h2-unsized"));
        assertThat(upload.stdout).as(upload.stderr).isEqualTo("stored\n");
        String line = upstreamLine("POST /upload?h2-unsized");
        assertThat(line).contains("|len=-|", "|tenc=chunked|", "|status=200|");
        assertThat(sha256(storedBody(line))).isEqualTo(bigSha);
    }

    @Test
    void http11GetHeadPostAndAChunkedUploadThroughCurl() throws Exception {
        getHeadPost("--http1.1", "h1");
        // curl uploads a pipe over HTTP/1.1 chunked: the proxy streams it chunked too.
        Curl upload = curl(big, "--http1.1", "-X", "POST", "-T", "-", url("/upload?h1-chunked"));
        assertThat(upload.stdout).as(upload.stderr).isEqualTo("stored\n");
        String line = upstreamLine("POST /upload?h1-chunked");
        assertThat(line).contains("|len=-|", "|tenc=chunked|", "|status=200|");
        assertThat(sha256(storedBody(line))).isEqualTo(bigSha);
    }

    private void getHeadPost(String protocol, String tag) throws Exception {
        Path out = dir.resolve(tag + "-100m.bin");
        Curl get = curl(null, protocol, "-o", out.toString(), "-w", "%{http_code} %{http_version}",
                url("/files/100m.bin"));
        assertThat(get.stdout).as(get.stderr).isEqualTo("200 " + (tag.equals("h2") ? "2" : "1.1"));
        assertThat(sha256(out)).isEqualTo(bigSha);
        Files.delete(out);

        Curl head = curl(null, protocol, "-I", url("/files/100m.bin?" + tag + "-head"));
        assertThat(head.stdout.toLowerCase()).contains("content-length: " + BIG, "server: nginx");
        assertThat(upstreamLine("HEAD /files/100m.bin?" + tag + "-head")).contains("|status=200|");

        Curl post = curl(null, protocol, "--data-binary", "@" + big, url("/upload?" + tag + "-post"));
        assertThat(post.stdout).as(post.stderr).isEqualTo("stored\n");
        String line = upstreamLine("POST /upload?" + tag + "-post");
        assertThat(line).contains("|len=" + BIG + "|", "|status=200|");
        assertThat(sha256(storedBody(line))).isEqualTo(bigSha);
    }

    @Test
    void aWorkerProcessStartedWithUpstreamProxiesEveryPathInsteadOfTheDemoSite() throws Exception {
        try (WorkerProcess process = WorkerProcess.start(dir.resolve("state"), "--address", "127.0.0.1", "--port",
                "0", "--upstream", nginx.url(), "--upstream", "http://127.0.0.1:" + deadPort)) {
            String base = "https://localhost:" + process.port();
            for (int i = 0; i < 4; i++) {
                // Round robin over a pool with a dead upstream: its connect failures are retried on nginx.
                Curl hello = curl(null, "--http2", base + "/hello?process-" + i);
                assertThat(hello.stdout).as(hello.stderr).isEqualTo("hello from nginx\n");
            }
            Curl whoami = curl(null, "--http1.1", "-w", "%{http_code}", "-o", "/dev/null", base + "/whoami");
            assertThat(whoami.stdout).as("the demo site's /whoami now comes from nginx").isEqualTo("404");
            assertThat(upstreamLine("GET /whoami")).contains("|status=404|");
        }
    }

    @Test
    void completeKeptAliveResponsesLeaveTheirUpstreamConnectionForTheNextRequest() throws Exception {
        for (int i = 0; i < 5; i++) {
            // Separate clients (curl processes), one after the other: the same event loop, so the same pool.
            assertThat(curl(null, "--http2", url("/hello?reuse-" + i)).stdout).isEqualTo("hello from nginx\n");
        }
        String first = field(upstreamLine("GET /hello?reuse-0"), "connection");
        for (int i = 1; i < 5; i++) {
            assertThat(field(upstreamLine("GET /hello?reuse-" + i), "connection"))
                    .as("nginx's connection serial number of request %d", i).isEqualTo(first);
        }
        // A response cut short (the client went away, the upstream stalled) never returns its connection: see the
        // stalled-download and stalled-upstream tests, whose connections close.
    }

    // ---- headers ----

    @Test
    void forwardingHeadersReachTheUpstreamAndHopByHopHeadersDoNot() throws Exception {
        Curl request = curl(null, "--http1.1",
                "-H", "Connection: keep-alive, X-Hop",
                "-H", "X-Hop: for this hop only",
                "-H", "Keep-Alive: timeout=5",
                "-H", "TE: trailers, deflate",
                "-H", "Upgrade: websocket",
                "-H", "Proxy-Connection: keep-alive",
                "-H", "X-Forwarded-For: 203.0.113.7",
                url("/hello?forwarding"));
        assertThat(request.stdout).isEqualTo("hello from nginx\n");
        String authority = "localhost:" + worker.port();
        assertThat(upstreamLine("GET /hello?forwarding")).contains(
                "|xff=127.0.0.1|", "|xfp=https|", "|xfh=" + authority + "|", "|host=" + authority + "|",
                "|early=-|", "|conn=-|", "|te=trailers|", "|ka=-|", "|up=-|", "|pc=-|", "|hop=-|");

        Curl hop = curl(null, "--http2", "-i", url("/hop"));
        String head = hop.stdout.toLowerCase();
        assertThat(head).startsWith("http/2 200").contains("\nalt-svc: h3=\":" + worker.port() + "\"")
                .doesNotContain("x-secret", "keep-alive", "upgrade:", "9999");
    }

    @Test
    void aRequestThatArrivedInEarlyDataCarriesEarlyDataToTheUpstream() throws Exception {
        Path session = dir.resolve("early-session.pem");
        Path params = dir.resolve("early-params.pem");
        Peers.gtlsclient(worker.port(), List.of("-q", "--wait-for-ticket", "--session-file=" + session,
                "--tp-file=" + params, "--download", Files.createDirectories(dir.resolve("early-1")).toString()),
                Duration.ofSeconds(30), "/hello?full-handshake");
        assertThat(session).isNotEmptyFile();
        Peers.Run early = Peers.gtlsclient(worker.port(), List.of("--session-file=" + session, "--tp-file=" + params,
                "--no-http-dump", "--download", Files.createDirectories(dir.resolve("early-2")).toString()),
                Duration.ofSeconds(30), "/hello?resumed");
        assertThat(early.stderrText()).contains("0RTT STREAM").doesNotContain("Early data was rejected");

        assertThat(upstreamLine("GET /hello?full-handshake")).contains("|early=-|");
        assertThat(upstreamLine("GET /hello?resumed")).contains("|early=1|");
    }

    // ---- failures ----

    @Test
    void anUpstreamThatRefusesOrResetsGives502ThenIsEjected503AndAPoolFailsOver() throws Exception {
        for (int i = 0; i < 3; i++) {
            Curl refused = curl(null, "--http2", "-w", "\n%{http_code}", url("/dead"));
            assertThat(refused.stdout).as("connect %d", i).contains("refused").endsWith("\n502");
        }
        Curl ejected = curl(null, "--http2", "-w", "\n%{http_code}", url("/dead"));
        assertThat(ejected.stdout).as("after 3 failed connects the only upstream is ejected")
                .isEqualTo("no healthy upstream\n\n503");
        Curl reset = curl(null, "--http1.1", "-w", "\n%{http_code}", url("/reset"));
        assertThat(reset.stdout).contains("closed the connection").endsWith("\n502");
        // the worker's own access log names the upstream and why
        JsonNode refusedLine = accessLogLine("/dead", 502);
        assertThat(refusedLine.get("upstream").asText()).isEqualTo("http://127.0.0.1:" + deadPort);
        assertThat(refusedLine.get("failure").asText()).startsWith("connect_failure: ").contains("refused");
        assertThat(accessLogLine("/dead", 503).get("failure").asText())
                .isEqualTo("no_healthy_upstream: no healthy upstream");
        assertThat(accessLogLine("/reset", 502).get("failure").asText()).startsWith("upstream_reset: ")
                .contains("closed the connection");

        for (int i = 0; i < 6; i++) {
            Curl pooled = curl(null, "--http2", "-w", "%{http_code}", url("/pool/" + i));
            assertThat(pooled.stdout).as("request %d through a pool with a dead upstream", i).isEqualTo("pool\n200");
        }
        assertThat(poolProxy.upstreamStates()).extracting(ProxyService.UpstreamState::ejected)
                .as("the dead upstream is ejected, nginx is not").containsExactly(true, false);
    }

    /** The last line of the worker's access log for {@code path} with {@code status} (waits for the writer). */
    private static JsonNode accessLogLine(String path, int status) throws Exception {
        Path log = dir.resolve("worker-access.log");
        ObjectMapper json = new ObjectMapper();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            JsonNode found = null;
            for (String line : AccessLogIT.completeLines(log)) {
                JsonNode node = json.readTree(line);
                if (node.get("path").asText().equals(path) && node.get("status").asInt() == status) {
                    found = node;
                }
            }
            if (found != null) {
                return found;
            }
            assertThat(System.nanoTime()).as("an access log line for %s with %d", path, status).isLessThan(deadline);
            Thread.sleep(50);
        }
    }

    @Test
    void anUpstreamThatDoesNotAcceptWithinTheConnectTimeoutGives504() throws Exception {
        Curl timedOut = curl(null, "--http2", "-w", "\n%{http_code}", url("/full"));
        assertThat(timedOut.stdout).contains("did not accept a connection within 500ms").endsWith("\n504");
    }

    @Test
    void aSlowUpstreamGives504AndOneThatStallsMidResponseResetsTheStream() throws Exception {
        Curl slow = curl(null, "--http2", "-w", "\n%{http_code}", url("/slow"));
        assertThat(slow.stdout).contains("did not respond within 2s").endsWith("\n504");

        Curl stall = curl(null, "--http2", url("/stall"));
        assertThat(stall.stdout).as("what arrived before the stall").isEqualTo("first\n");
        assertThat(stall.exit).as("curl's exit code: the stream was reset, not ended (" + stall.stderr + ")")
                .isNotZero();
    }

    // ---- streaming ----

    @Test
    void serverSentEventsArriveEventByEvent() throws Exception {
        List<Peers.Line> events = new ArrayList<>();
        Peers.run(List.of("curl", "-sSk", "-N", "--http2", url("/sse")), Duration.ofSeconds(30), null, line -> { },
                line -> {
                    if (line.text().startsWith("data:")) {
                        synchronized (events) {
                            events.add(line);
                        }
                    }
                });
        assertThat(events).extracting(Peers.Line::text).containsExactly("data: 0", "data: 1", "data: 2", "data: 3");
        for (int i = 1; i < events.size(); i++) {
            assertThat(events.get(i).millis() - events.get(i - 1).millis())
                    .as("ms between event %d and %d (nginx pauses %d ms)", i - 1, i, SSE_PAUSE_MILLIS)
                    .isGreaterThanOrEqualTo(SSE_PAUSE_MILLIS / 2);
        }
    }

    @Test
    void aClientThatStopsReadingAGibibyteHoldsBoundedMemoryAndTheUpstreamConnectionCloses() throws Exception {
        X509Certificate cert = TlsMaterial.developmentCertificate(dir.resolve("state"), Clock.systemUTC()).leaf();
        try (TestH3Client client = new TestH3Client(worker.port(), cert, 1 << 20)) {
            client.get("/hello", true).done.get(10, TimeUnit.SECONDS);
            long before = usedDirectMemory();
            long timeouts = sendTimeouts();

            TestH3Client.Exchange exchange = client.get("/big/1g.bin", false); // never reads its stream
            awaitTrue(() -> bigProxy.openConnections() == 1, "the upstream connection opened");
            long most = mostDirectMemoryUntil(() -> sendTimeouts() > timeouts);

            assertThat(most - before).as("direct memory the stalled proxied download holds").isLessThan(16L << 20);
            awaitTrue(() -> bigProxy.openConnections() == 0, "the upstream connection closed");
            // What nginx sent before the proxy closed the connection: what socket buffers and the client's stream
            // window hold, not the gibibyte (the worker's pooled memory may not grow at all after earlier tests).
            String line = upstreamLine("GET /big/1g.bin");
            long upstreamSent = Long.parseLong(field(line, "sent"));
            assertThat(upstreamSent).as("bytes nginx sent of the gibibyte").isLessThan(64L << 20);
            TestH3Client.resume(exchange);
            assertThat(exchange.bodyBytes.get()).isLessThan(16L << 20);
        }
    }

    @Test
    void anUpstreamThatStopsReadingAnUploadStopsTheClientAndGets504() throws Exception {
        X509Certificate cert = TlsMaterial.developmentCertificate(dir.resolve("state"), Clock.systemUTC()).leaf();
        try (TestH3Client client = new TestH3Client(worker.port(), cert, 1 << 20)) {
            client.get("/hello", true).done.get(10, TimeUnit.SECONDS);
            long before = usedDirectMemory();
            long most = before;
            AtomicLong sent = new AtomicLong();
            byte[] chunk = new byte[64 * 1024];

            // The upstream never reads: the client sends a gibibyte as fast as flow control lets it. Writes happen on
            // the client's event loop, where writability is exact (a write from another thread is queued unseen).
            TestH3Client.Exchange exchange = client.startPost("/sink", GIB);
            QuicStreamChannel stream = exchange.stream;
            Runnable pump = () -> {
                while (stream.isActive() && stream.isWritable() && sent.get() < GIB) {
                    stream.write(new DefaultHttp3DataFrame(Unpooled.wrappedBuffer(chunk)));
                    sent.addAndGet(chunk.length);
                }
                stream.flush();
            };
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (exchange.headerFrames.isEmpty()) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("no response within 30 s; " + sent + " bytes sent");
                }
                stream.eventLoop().submit(pump).get(10, TimeUnit.SECONDS);
                most = Math.max(most, usedDirectMemory());
                TimeUnit.MILLISECONDS.sleep(2); // a sampling interval while flow control holds the client
            }

            assertThat(exchange.headerFrames.get(0).status().toString()).isEqualTo("504");
            assertThat(sinkConnections).as("connections the proxy opened to the sink (and the two fillers)")
                    .hasSize(3);
            assertThat(sent.get()).as("bytes the client could send before the 504").isLessThan(64L << 20);
            assertThat(most - before).as("direct memory the stalled upload held").isLessThan(16L << 20);
        }
    }

    @Test
    void proxiedRequestsStartNoVirtualThread() throws Exception {
        X509Certificate cert = TlsMaterial.developmentCertificate(dir.resolve("state"), Clock.systemUTC()).leaf();
        try (TestH3Client h3 = new TestH3Client(worker.port(), cert, 1 << 20); SSLSocket h1 = http1Socket()) {
            h3.get("/hello", true).done.get(10, TimeUnit.SECONDS); // connections and pools exist before counting
            long started = virtualThreadsStartedWhile(() -> {
                for (int i = 0; i < 10; i++) {
                    TestH3Client.Exchange exchange = h3.get("/hello?vt-" + i, true);
                    exchange.done.get(10, TimeUnit.SECONDS);
                    assertThat(exchange.headerFrames.get(0).status().toString()).isEqualTo("200");
                    assertThat(http1Get(h1, "/hello?vt-h1-" + i)).startsWith("HTTP/1.1 200");
                }
            });
            assertThat(started).as("virtual threads started by 20 proxied requests").isZero();
        }
    }

    // ---- helpers ----

    private String url(String path) {
        return "https://localhost:" + worker.port() + path;
    }

    private record Curl(int exit, String stdout, String stderr) {
    }

    /** Runs curl (trusting the worker's certificate) with {@code stdin} piped to it (a pipe: no size), within 120 s. */
    private Curl curl(Path stdin, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("curl", "-sS", "--cacert",
                dir.resolve("state/dev-cert.pem").toString(), "--max-time", "100"));
        command.addAll(List.of(args));
        Path out = Files.createTempFile(dir, "curl", ".out");
        Path err = Files.createTempFile(dir, "curl", ".err");
        ProcessBuilder builder = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile());
        Process process = builder.start();
        Thread feeder = Thread.ofPlatform().daemon().start(() -> {
            try (OutputStream in = process.getOutputStream()) {
                if (stdin != null) {
                    Files.copy(stdin, in);
                }
            } catch (IOException e) {
                // curl exited early; its exit code and stderr tell why
            }
        });
        try {
            if (!process.waitFor(120, TimeUnit.SECONDS)) {
                throw new AssertionError("curl " + command + " did not finish within 120 s");
            }
            return new Curl(process.exitValue(), Files.readString(out), Files.readString(err));
        } finally {
            process.destroyForcibly();
            feeder.join(5_000);
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    private static String upstreamLine(String request) throws Exception {
        return nginx.awaitAccessLine(request);
    }

    /** The request body file nginx kept for the request of {@code line}. */
    private static Path storedBody(String line) {
        return Path.of(field(line, "body"));
    }

    /** The value of {@code name} in an access-log line. */
    private static String field(String line, String name) {
        int start = line.indexOf("|" + name + "=") + name.length() + 2;
        return line.substring(start, line.indexOf('|', start));
    }

    private static long sendTimeouts() {
        return worker.metrics().timeouts(HttpProtocol.H3, TimeoutReason.SEND);
    }

    private static long size(Path file) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static String sha256(Path file) throws Exception {
        MessageDigest digest = MessageDigest.getInstance("SHA-256");
        byte[] buffer = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(file)) {
            for (int n; (n = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, n);
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    private static SSLSocket http1Socket() throws Exception {
        Socket plain = new Socket();
        plain.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), worker.port()), 5_000);
        SSLContext ssl = TestClients.trusting(dir.resolve("state/dev-cert.pem"));
        SSLSocket socket = (SSLSocket) ssl.getSocketFactory().createSocket(plain, "localhost", worker.port(), true);
        SSLParameters params = socket.getSSLParameters();
        params.setApplicationProtocols(new String[] {"http/1.1"});
        socket.setSSLParameters(params);
        socket.setSoTimeout(30_000);
        socket.startHandshake();
        return socket;
    }
}
