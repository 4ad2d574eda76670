package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.quicfleet.http.Router;
import dev.quicfleet.metrics.TcpErrorReason;
import dev.quicfleet.metrics.UpstreamRetry;
import dev.quicfleet.proxy.ProxyConfig;
import dev.quicfleet.proxy.ProxyService;
import dev.quicfleet.proxy.TrustedNetworks;
import dev.quicfleet.worker.log.AccessLogFormat;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Who the upstream is told the client is: forwarding headers kept only from trusted proxies, RFC 7239
 * {@code Forwarded} and {@code Via}, and the PROXY protocol on TCP. The upstream is Debian's nginx, whose access log
 * records the headers it received; clients are curl (HTTP/1.1, HTTP/2, and PROXY v1 with {@code --haproxy-protocol}),
 * ngtcp2's client (HTTP/3) and, for PROXY v2, a raw socket that writes the binary header and then speaks TLS through
 * the JDK's {@link SSLSocket} layered over it. Loopback has the whole of 127.0.0.0/8, so clients bind to 127.0.0.2
 * (a trusted proxy), 127.0.0.3 (a balancer sending PROXY headers) or 127.0.0.1 (anyone else).
 */
class ForwardingIT {

    private static final String TRUSTED = "127.0.0.2";
    private static final String BALANCER = "127.0.0.3";
    private static final String LOG_FORMAT = "$request_method $request_uri|xff=$http_x_forwarded_for"
            + "|xfp=$http_x_forwarded_proto|xfh=$http_x_forwarded_host|fwd=$http_forwarded|via=$http_via"
            + "|early=$http_early_data|status=$status|";
    /** {@code /early}: what an application that refuses replayable requests does (RFC 8470 §5.2). */
    private static final String LOCATIONS = """
            location /hello { return 200 "hello from nginx\\n"; }
            location /early {
              if ($http_early_data = "1") { return 425; }
              return 200 "not early\\n";
            }
            """;

    /** How nginx's access log writes a {@code "} inside a value. */
    private static final String NGINX_QUOTE = "\\x22";

    private static Path dir;
    private static Nginx nginx;
    private static Worker worker;
    private static ProxyService proxy;

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("quicfleet-forwarding-");
        nginx = Nginx.start(dir, LOG_FORMAT, LOCATIONS);
        proxy = new ProxyService(ProxyConfig.builder(nginx.url())
                .trustedProxies(TrustedNetworks.parse("trusted-proxies", TRUSTED + "/32,::1/128"))
                .forwardingHeaders(true, true)
                .build());
        worker = new Worker(WorkerConfig.builder()
                .address(InetAddress.getByName("127.0.0.1"))
                .port(0)
                .stateDir(dir.resolve("state"))
                .proxyProtocolFrom(TrustedNetworks.parse("proxy-protocol-from", BALANCER + "/32"))
                .accessLog(dir.resolve("worker-access.log").toString(), AccessLogFormat.JSON)
                .build(), Router.builder().route("/", proxy).build());
        worker.start().join();
    }

    @AfterAll
    static void stop() throws IOException {
        try {
            if (worker != null) {
                worker.stop().join();
            }
        } finally {
            if (nginx != null) {
                nginx.close();
            }
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static final String[] SPOOFED = {"-H", "X-Forwarded-For: 203.0.113.7", "-H", "X-Forwarded-Proto: http",
            "-H", "X-Forwarded-Host: spoofed.example", "-H", "Forwarded: for=203.0.113.7", "-H", "Via: 1.1 cdn"};

    @Test
    void anUntrustedClientsForwardingHeadersAreReplaced() throws Exception {
        Curl curl = curl(List.of("--http1.1"), SPOOFED, url("/hello?untrusted"));
        assertThat(curl.stdout).isEqualTo("hello from nginx\n");
        String authority = "localhost:" + worker.port();
        assertThat(upstreamLine("GET /hello?untrusted")).contains("|xff=127.0.0.1|", "|xfp=https|",
                "|xfh=" + authority + "|",
                "|fwd=for=127.0.0.1;host=" + NGINX_QUOTE + authority + NGINX_QUOTE + ";proto=https|",
                "|via=1.1 cdn, 1.1 quicfleet|");
    }

    @Test
    void aTrustedProxysForwardingHeadersAreKeptAndAppendedTo() throws Exception {
        Curl curl = curl(List.of("--http2", "--interface", TRUSTED), SPOOFED, url("/hello?trusted"));
        assertThat(curl.stdout).isEqualTo("hello from nginx\n");
        String authority = "localhost:" + worker.port();
        assertThat(upstreamLine("GET /hello?trusted")).contains("|xff=203.0.113.7, " + TRUSTED + "|", "|xfp=http|",
                "|xfh=spoofed.example|",
                "|fwd=for=203.0.113.7, for=" + TRUSTED + ";host=" + NGINX_QUOTE + authority + NGINX_QUOTE
                        + ";proto=https|",
                "|via=1.1 cdn, 2 quicfleet|");
    }

    @Test
    void http3RequestsSayVia3() throws Exception {
        Peers.Run run = Peers.gtlsclient(worker.port(), List.of("--download",
                Files.createDirectories(dir.resolve("h3")).toString()), Duration.ofSeconds(30), "/hello?h3");
        assertThat(upstreamLine("GET /hello?h3")).as(run.stderrText()).contains("|xff=127.0.0.1|",
                "|via=3 quicfleet|");
    }

    @Test
    void proxyProtocolV2FromTheBalancerSetsTheClientAddress() throws Exception {
        long refusedBefore = refused();
        try (Socket plain = new Socket()) {
            plain.bind(new InetSocketAddress(BALANCER, 0));
            plain.connect(new InetSocketAddress("127.0.0.1", worker.port()), 5_000);
            plain.getOutputStream().write(proxyV2("198.51.100.23", 40_000, "127.0.0.1", worker.port()));
            String response = http1OverTls(plain, "/hello?proxy-v2");
            assertThat(response).startsWith("HTTP/1.1 200").endsWith("hello from nginx\n");
        }
        assertThat(upstreamLine("GET /hello?proxy-v2")).contains("|xff=198.51.100.23|",
                "|fwd=for=198.51.100.23;");
        assertThat(accessLogLine("/hello?proxy-v2").get("client").asText()).isEqualTo("198.51.100.23");
        assertThat(refused()).isEqualTo(refusedBefore);
    }

    @Test
    void proxyProtocolV1FromCurlAtTheBalancerAddressIsAccepted() throws Exception {
        // curl writes "PROXY TCP4 <its own address> ...": the address it connects from, 127.0.0.3.
        Curl curl = curl(List.of("--http1.1", "--haproxy-protocol", "--interface", BALANCER), new String[0],
                url("/hello?proxy-v1"));
        assertThat(curl.stdout).as(curl.stderr).isEqualTo("hello from nginx\n");
        assertThat(upstreamLine("GET /hello?proxy-v1")).contains("|xff=" + BALANCER + "|");
    }

    @Test
    void aProxyHeaderFromAnyoneElseIsRefused() throws Exception {
        long before = refused();
        Curl curl = curl(List.of("--http1.1", "--haproxy-protocol"), new String[0], url("/hello?proxy-untrusted"));
        assertThat(curl.exit).as("curl's exit code; stderr: %s", curl.stderr).isNotZero();
        assertThat(curl.stdout).isEmpty();
        awaitRefused(before + 1);
        // Whatever it claimed, it never reached the upstream.
        assertThat(nginx.accessLines()).noneMatch(l -> l.contains("proxy-untrusted"));
    }

    @Test
    void theBalancerWithoutAProxyHeaderIsRefused() throws Exception {
        long before = refused();
        Curl curl = curl(List.of("--http1.1", "--interface", BALANCER), new String[0], url("/hello?no-header"));
        assertThat(curl.exit).as("curl's exit code; stderr: %s", curl.stderr).isNotZero();
        awaitRefused(before + 1);
        assertThat(nginx.accessLines()).noneMatch(l -> l.contains("no-header"));
    }

    @Test
    void anUpstreams425ToAnEarlyRequestIsRetriedOnceTheHandshakeCompleted() throws Exception {
        Path session = dir.resolve("early-session.pem");
        Path params = dir.resolve("early-params.pem");
        Peers.gtlsclient(worker.port(), List.of("-q", "--wait-for-ticket", "--session-file=" + session,
                "--tp-file=" + params, "--download", Files.createDirectories(dir.resolve("early-1")).toString()),
                Duration.ofSeconds(30), "/early?full-handshake");
        assertThat(session).isNotEmptyFile();
        long retriesBefore = proxy.metrics().retries(UpstreamRetry.TOO_EARLY);
        Path download = Files.createDirectories(dir.resolve("early-2"));
        Peers.Run early = Peers.gtlsclient(worker.port(), List.of("--session-file=" + session, "--tp-file=" + params,
                "--no-http-dump", "--download", download.toString()), Duration.ofSeconds(30), "/early?resumed");
        assertThat(early.stderrText()).contains("0RTT STREAM").doesNotContain("Early data was rejected");

        // nginx saw the request twice: in early data (refused with 425), then after the handshake (answered).
        List<String> seen = nginx.accessLines().stream().filter(l -> l.startsWith("GET /early?resumed|")).toList();
        assertThat(seen).hasSize(2);
        assertThat(seen.get(0)).contains("|early=1|", "|status=425|");
        assertThat(seen.get(1)).contains("|early=-|", "|status=200|");
        assertThat(proxy.metrics().retries(UpstreamRetry.TOO_EARLY)).isEqualTo(retriesBefore + 1);
        // The client got the answer, not the 425.
        try (Stream<Path> files = Files.list(download)) {
            List<Path> downloaded = files.toList();
            assertThat(downloaded).hasSize(1);
            assertThat(Files.readString(downloaded.get(0))).isEqualTo("not early\n");
        }
        JsonNode line = accessLogLine("/early?resumed");
        assertThat(line.get("status").asInt()).isEqualTo(200);
        assertThat(line.get("early_data").asBoolean()).isTrue();
    }

    // ---- helpers ----

    private static long refused() {
        return worker.metrics().tcpErrors(TcpErrorReason.PROXY_PROTOCOL);
    }

    private static void awaitRefused(long count) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (refused() < count) {
            assertThat(System.nanoTime()).as("tcp errors proxy_protocol reaching %d", count).isLessThan(deadline);
            TimeUnit.MILLISECONDS.sleep(20);
        }
        assertThat(refused()).as("counted once").isEqualTo(count);
    }

    /** A PROXY protocol v2 header (HAProxy's proxy-protocol.txt §2.2): PROXY command, TCP over IPv4. */
    static byte[] proxyV2(String source, int sourcePort, String destination, int destinationPort) throws IOException {
        ByteBuffer header = ByteBuffer.allocate(16 + 12);
        header.put(new byte[] {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A});
        header.put((byte) 0x21); // version 2, command PROXY
        header.put((byte) 0x11); // AF_INET, STREAM
        header.putShort((short) 12);
        header.put(InetAddress.getByName(source).getAddress());
        header.put(InetAddress.getByName(destination).getAddress());
        header.putShort((short) sourcePort);
        header.putShort((short) destinationPort);
        return header.array();
    }

    /** Speaks TLS over {@code plain} (after whatever was written on it) and sends one HTTP/1.1 GET. */
    private static String http1OverTls(Socket plain, String path) throws Exception {
        SSLContext ssl = TestClients.trusting(dir.resolve("state/dev-cert.pem"));
        try (SSLSocket socket = (SSLSocket) ssl.getSocketFactory().createSocket(plain, "localhost", worker.port(),
                false)) {
            SSLParameters params = socket.getSSLParameters();
            params.setApplicationProtocols(new String[] {"http/1.1"});
            socket.setSSLParameters(params);
            socket.setSoTimeout(30_000);
            socket.startHandshake();
            OutputStream out = socket.getOutputStream();
            out.write(("GET " + path + " HTTP/1.1\r\nHost: localhost:" + worker.port()
                    + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            ByteArrayOutputStream response = new ByteArrayOutputStream();
            in.transferTo(response);
            return response.toString(StandardCharsets.UTF_8);
        }
    }

    private static String url(String path) {
        return "https://localhost:" + worker.port() + path;
    }

    private record Curl(int exit, String stdout, String stderr) {
    }

    private static Curl curl(List<String> options, String[] headers, String url) throws Exception {
        List<String> command = new ArrayList<>(List.of("curl", "-sS", "--cacert",
                dir.resolve("state/dev-cert.pem").toString(), "--max-time", "20",
                "--resolve", "localhost:" + worker.port() + ":127.0.0.1"));
        command.addAll(options);
        command.addAll(List.of(headers));
        command.add(url);
        Path out = Files.createTempFile(dir, "curl", ".out");
        Path err = Files.createTempFile(dir, "curl", ".err");
        Process process = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        try {
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                throw new AssertionError("curl " + command + " did not finish within 60 s");
            }
            return new Curl(process.exitValue(), Files.readString(out), Files.readString(err));
        } finally {
            process.destroyForcibly();
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    private static String upstreamLine(String request) throws Exception {
        return nginx.awaitAccessLine(request);
    }

    /** The worker's access-log line for {@code path} (waits for the writer). */
    private static JsonNode accessLogLine(String path) throws Exception {
        Path log = dir.resolve("worker-access.log");
        ObjectMapper json = new ObjectMapper();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            for (String line : AccessLogIT.completeLines(log)) {
                JsonNode node = json.readTree(line);
                if (node.get("path").asText().equals(path)) {
                    return node;
                }
            }
            assertThat(System.nanoTime()).as("an access log line for %s", path).isLessThan(deadline);
            TimeUnit.MILLISECONDS.sleep(50);
        }
    }
}
