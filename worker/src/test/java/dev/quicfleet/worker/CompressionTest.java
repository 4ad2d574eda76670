package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.aayushatharva.brotli4j.Brotli4jLoader;
import com.aayushatharva.brotli4j.decoder.BrotliInputStream;
import com.aayushatharva.brotli4j.encoder.Encoder;
import com.github.luben.zstd.ZstdInputStream;
import dev.quicfleet.http.Headers;
import dev.quicfleet.http.HttpExchange;
import dev.quicfleet.http.Router;
import dev.quicfleet.proxy.ProxyConfig;
import dev.quicfleet.proxy.ProxyService;
import dev.quicfleet.worker.services.StaticFiles;
import dev.quicfleet.worker.tls.TlsMaterial;
import io.netty.buffer.Unpooled;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Response compression in a worker in this JVM, for a static file, a blocking handler's output and a response
 * proxied from Debian's nginx: curl over HTTP/2 and HTTP/1.1 and Netty's HTTP/3 client get the coding they ask for
 * and decode the original bytes (sha256); Chromium, forced onto HTTP/3, decodes a page it was sent compressed. Images,
 * ranges, small and already encoded bodies are left alone, and a compressed event stream still delivers each event
 * as it is written.
 */
class CompressionTest {

    private static Path dir;
    private static Nginx nginx;
    private static Worker worker;
    private static byte[] text;
    private static String textSha;
    /** Writes of the event-stream service, run on its event loop when the test asks for the next event. */
    private static final BlockingQueue<HttpExchange> events = new LinkedBlockingQueue<>();

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("quicfleet-compression-");
        Path www = Files.createDirectories(dir.resolve("www"));
        text = words(200_000, 1);
        textSha = sha256(text);
        Files.write(www.resolve("a.txt"), text);
        byte[] png = new byte[50_000];
        new Random(2).nextBytes(png);
        Files.write(www.resolve("image.png"), png);
        Files.write(www.resolve("small.txt"), words(300, 3));
        Brotli4jLoader.ensureAvailability();
        // a.css with precompressed sidecars whose content says which one was served; b.css's sidecar is stale
        Files.write(www.resolve("a.css"), words(20_000, 4));
        Files.write(www.resolve("a.css.gz"), gzip("from a.css.gz ".getBytes(StandardCharsets.US_ASCII)));
        Files.write(www.resolve("a.css.br"), Encoder.compress("from a.css.br ".getBytes(StandardCharsets.US_ASCII)));
        Files.write(www.resolve("b.css"), words(20_000, 5));
        Files.write(www.resolve("b.css.br"), Encoder.compress("stale".getBytes(StandardCharsets.US_ASCII)));
        Files.setLastModifiedTime(www.resolve("b.css.br"), FileTime.from(Instant.now().minusSeconds(3600)));
        nginx = Nginx.start(dir, "$request_uri", "location /www/ { alias $DIR/www/; default_type text/plain; }");
        ProxyService proxy = new ProxyService(ProxyConfig.builder(nginx.url()).build());
        Router router = Router.builder()
                .route("/static", new StaticFiles(www))
                .route("/handler", (request, response) -> {
                    response.header("content-type", "text/plain; charset=utf-8");
                    try (var body = response.body()) {
                        for (int i = 0; i < text.length; i += 10_000) {
                            body.write(text, i, Math.min(10_000, text.length - i)); // many writes, one body
                        }
                    }
                })
                .route("/gzipped", (request, response) -> {
                    response.header("content-type", "text/plain").header("content-encoding", "gzip");
                    response.send(200, "text/plain", "not really gzip, but the handler says so: leave it alone "
                            .repeat(20));
                })
                .route("/events", (HttpExchange exchange) -> {
                    Headers headers = new Headers().set("content-type", "text/event-stream");
                    exchange.head(200, headers);
                    events.add(exchange);
                })
                .route("/www", proxy)
                .build();
        worker = new Worker(WorkerConfig.builder()
                .address(InetAddress.getLoopbackAddress())
                .port(0)
                .stateDir(dir.resolve("state"))
                .build(), router);
        worker.start().join();
    }

    @AfterAll
    static void stop() throws Exception {
        if (worker != null) {
            worker.stop().join();
        }
        if (nginx != null) {
            nginx.close();
        }
    }

    @Test
    void curlGetsEveryCodingItAsksForOverHttp2AndHttp1AndDecodesTheOriginal() throws Exception {
        for (String path : List.of("/static/a.txt", "/handler", "/www/a.txt")) {
            for (String coding : List.of("zstd", "br", "gzip")) {
                for (String protocol : List.of("--http2", "--http1.1")) {
                    Path headers = dir.resolve("response-headers");
                    Path body = dir.resolve("response.bin");
                    curl(protocol, "--compressed", "-H", "accept-encoding: " + coding, "-D", headers.toString(),
                            "-o", body.toString(), url(path));
                    String head = Files.readString(headers).toLowerCase();
                    String what = path + " " + coding + " " + protocol;
                    assertThat(head).as(what).contains("content-encoding: " + coding + "\r\n")
                            .contains("vary: accept-encoding").doesNotContain("content-length:");
                    assertThat(sha256(Files.readAllBytes(body))).as(what).isEqualTo(textSha);
                }
            }
        }
    }

    @Test
    void theClientsQValuesWinAndTheServerPrefersZstdThenBrThenGzipAtEqualQ() throws Exception {
        Map<String, String> expected = Map.of(
                "gzip, deflate, br, zstd", "zstd",
                "gzip;q=1, br;q=0.8, zstd;q=0.5", "gzip",
                "br, gzip", "br",
                "*", "zstd",
                "zstd;q=0, br;q=0, *;q=0.1", "gzip",
                "identity", "none",
                "gzip;q=0", "none");
        for (var entry : expected.entrySet()) {
            String head = curl("--http2", "-o", "/dev/null", "-D", "-", "-H", "accept-encoding: " + entry.getKey(),
                    url("/static/a.txt")).toLowerCase();
            if (entry.getValue().equals("none")) {
                assertThat(head).as(entry.getKey()).doesNotContain("content-encoding").contains("content-length: "
                        + text.length).contains("vary: accept-encoding");
            } else {
                assertThat(head).as(entry.getKey()).contains("content-encoding: " + entry.getValue() + "\r\n");
            }
        }
    }

    @Test
    void http3ClientGetsEachCodingAndChromiumDecodesAPageSentCompressed() throws Exception {
        TlsMaterial tls = TlsMaterial.developmentCertificate(dir.resolve("state"), Clock.systemUTC());
        try (TestH3Client h3 = new TestH3Client(worker.port(), tls.leaf(), 1 << 20)) {
            for (String coding : List.of("zstd", "br", "gzip")) {
                TestH3Client.Exchange exchange = h3.get("/static/a.txt", "accept-encoding", coding);
                exchange.done.get(20, TimeUnit.SECONDS);
                assertThat(exchange.headerFrames.getFirst().get("content-encoding").toString()).isEqualTo(coding);
                byte[] encoded = exchange.body.toByteArray();
                assertThat(encoded.length).as("%s is smaller than the file", coding).isLessThan(text.length / 2);
                assertThat(sha256(decode(coding, encoded))).as(coding).isEqualTo(textSha);
            }
        }
        double zstdBefore = compressedBytes("zstd");
        Peers.Run chromium = Peers.chromiumDumpDom(worker.port(), tls.spkiSha256Base64(), "/static/a.txt",
                Duration.ofSeconds(60));
        String dom = chromium.stdoutText();
        assertThat(dom).as(chromium.stderrText()).contains(new String(text, 0, 1000, StandardCharsets.US_ASCII));
        assertThat(dom).contains(new String(text, text.length - 1000, 1000, StandardCharsets.US_ASCII));
        // Chromium sends "gzip, deflate, br, zstd": the server's first choice
        assertThat(compressedBytes("zstd")).as("zstd bytes sent to Chromium").isGreaterThan(zstdBefore);
    }

    @Test
    void imagesRangesSmallAndEncodedBodiesAreLeftAlone() throws Exception {
        String image = curl("--http2", "-o", "/dev/null", "-D", "-", "-H", "accept-encoding: gzip",
                url("/static/image.png")).toLowerCase();
        assertThat(image).contains("content-length: 50000").doesNotContain("content-encoding", "vary");
        String range = curl("--http2", "-o", "/dev/null", "-D", "-", "-H", "accept-encoding: gzip", "-H",
                "range: bytes=0-99", url("/static/a.txt")).toLowerCase();
        assertThat(range).startsWith("http/2 206").contains("content-length: 100").doesNotContain("content-encoding");
        String small = curl("--http2", "-o", "/dev/null", "-D", "-", "-H", "accept-encoding: gzip",
                url("/static/small.txt")).toLowerCase();
        assertThat(small).doesNotContain("content-encoding");
        String encoded = curl("--http1.1", "-D", "-", "-H", "accept-encoding: zstd, br", url("/gzipped"));
        assertThat(encoded.toLowerCase()).contains("content-encoding: gzip\r\n").doesNotContain("zstd");
        assertThat(encoded).contains("leave it alone");
        // A weakened ETag still validates the compressed representation (If-None-Match compares weakly)
        String first = curl("--http2", "-o", "/dev/null", "-D", "-", "-H", "accept-encoding: gzip",
                url("/static/a.txt")).toLowerCase();
        String etag = first.lines().filter(l -> l.startsWith("etag: ")).findFirst().orElseThrow().substring(6);
        assertThat(etag).startsWith("w/\"");
        String revalidated = curl("--http2", "-o", "/dev/null", "-D", "-", "-H", "accept-encoding: gzip", "-H",
                "if-none-match: W/" + etag.substring(2), url("/static/a.txt"));
        assertThat(revalidated).startsWith("HTTP/2 304");
    }

    @Test
    void precompressedSidecarsAreServedWhenTheClientAcceptsThemAndNotStale() throws Exception {
        Path headers = dir.resolve("sidecar-headers");
        Path body = dir.resolve("sidecar.bin");
        // br and gzip sidecars: br (the server's order) unless the client ranks gzip higher
        Map<String, String> expected = Map.of("gzip, br, zstd", "br", "gzip;q=1, br;q=0.5", "gzip", "gzip", "gzip");
        for (var entry : expected.entrySet()) {
            curl("--http2", "--compressed", "-H", "accept-encoding: " + entry.getKey(), "-D", headers.toString(), "-o",
                    body.toString(), url("/static/a.css"));
            String head = Files.readString(headers).toLowerCase();
            assertThat(head).as(entry.getKey()).contains("content-encoding: " + entry.getValue() + "\r\n")
                    .contains("content-type: text/css", "vary: accept-encoding").doesNotContain("accept-ranges");
            assertThat(Files.readString(body)).isEqualTo("from a.css." + (entry.getValue().equals("br") ? "br" : "gz")
                    + " ");
        }
        // a stale sidecar is never served: the original, compressed on the fly
        curl("--http2", "--compressed", "-H", "accept-encoding: br", "-D", headers.toString(), "-o", body.toString(),
                url("/static/b.css"));
        assertThat(Files.readString(headers).toLowerCase()).contains("content-encoding: br\r\n");
        assertThat(Files.readAllBytes(body)).isEqualTo(words(20_000, 5));
        // a range asks for the original's bytes
        String range = curl("--http2", "-o", "/dev/null", "-D", "-", "-H", "accept-encoding: br", "-H",
                "range: bytes=0-9", url("/static/a.css")).toLowerCase();
        assertThat(range).startsWith("http/2 206").doesNotContain("content-encoding");
    }

    /**
     * The event stream's service writes an event only when the test has read the previous one out of curl's decoder:
     * so each event left the worker compressed and flushed, not held back for more input, in every coding.
     */
    @Test
    void aCompressedEventStreamDeliversEachEventAsItIsWritten() throws Exception {
        for (String coding : List.of("gzip", "br", "zstd")) {
            events.clear();
            Path headers = dir.resolve("sse-headers-" + coding);
            Process curl = new ProcessBuilder("curl", "-sk", "-N", "--http2", "--compressed", "-H",
                    "accept-encoding: " + coding, "-D", headers.toString(), url("/events"))
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            try (BufferedReader lines = new BufferedReader(new InputStreamReader(curl.getInputStream(),
                    StandardCharsets.UTF_8))) {
                HttpExchange exchange = events.poll(20, TimeUnit.SECONDS);
                assertThat(exchange).as("the event-stream request reached the service").isNotNull();
                for (int i = 0; i < 5; i++) {
                    String event = "data: event " + i + " " + "x".repeat(100) + "\n\n";
                    boolean last = i == 4;
                    exchange.eventLoop().execute(() -> {
                        exchange.write(Unpooled.copiedBuffer(event, StandardCharsets.UTF_8), last);
                        exchange.flush();
                    });
                    String line = readLine(lines, curl, Duration.ofSeconds(10));
                    assertThat(line).as("%s event %d, decoded before the next was written", coding, i)
                            .startsWith("data: event " + i + " ");
                    assertThat(readLine(lines, curl, Duration.ofSeconds(10))).isEmpty();
                }
            } finally {
                curl.destroy();
                curl.waitFor(10, TimeUnit.SECONDS);
            }
            assertThat(Files.readString(headers).toLowerCase()).contains("content-encoding: " + coding);
        }
    }

    // ---- helpers ----

    private static String readLine(BufferedReader lines, Process curl, Duration bound) throws Exception {
        long deadline = System.nanoTime() + bound.toNanos();
        while (!lines.ready()) {
            assertThat(curl.isAlive() || lines.ready()).as("curl is still running").isTrue();
            assertThat(System.nanoTime()).as("a line from curl within %s", bound).isLessThan(deadline);
            Thread.sleep(10);
        }
        return lines.readLine();
    }

    private static double compressedBytes(String coding) {
        String scrape = worker.metrics().scrape(null).body();
        return scrape.lines()
                .filter(l -> l.startsWith("quicfleet_http_compression_bytes_total{") && l.contains("coding=\"" + coding
                        + "\"") && l.contains("side=\"compressed\""))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
                .sum();
    }

    private static byte[] decode(String coding, byte[] encoded) throws IOException {
        InputStream in = new ByteArrayInputStream(encoded);
        try (InputStream decoded = switch (coding) {
            case "gzip" -> new GZIPInputStream(in);
            case "br" -> new BrotliInputStream(in);
            case "zstd" -> new ZstdInputStream(in);
            default -> throw new IllegalArgumentException(coding);
        }) {
            return decoded.readAllBytes();
        }
    }

    private static String url(String path) {
        return "https://localhost:" + worker.port() + path;
    }

    private static String curl(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("curl", "-sSk", "--max-time", "30", "--resolve",
                "localhost:" + worker.port() + ":127.0.0.1"));
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        byte[] out = process.getInputStream().readAllBytes();
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).as("curl %s", command).isZero();
        return new String(out, StandardCharsets.ISO_8859_1);
    }

    /** {@code count} bytes of space-separated words: compressible like real text. */
    private static byte[] words(int count, long seed) {
        String[] vocabulary = {"quic", "fleet", "edge", "server", "stream", "worker", "packet", "header", "event",
                "loop", "handshake", "resumption", "zero", "round", "trip"};
        Random random = new Random(seed);
        StringBuilder text = new StringBuilder(count + 16);
        while (text.length() < count) {
            text.append(vocabulary[random.nextInt(vocabulary.length)]).append(random.nextInt(8) == 0 ? '\n' : ' ');
        }
        text.setLength(count);
        return text.toString().getBytes(StandardCharsets.US_ASCII);
    }

    private static byte[] gzip(byte[] bytes) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gzip = new GZIPOutputStream(out)) {
            gzip.write(bytes);
        }
        return out.toByteArray();
    }

    private static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }
}
