package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quicfleet.http.Router;
import dev.quicfleet.proxy.ProxyConfig;
import dev.quicfleet.proxy.ProxyService;
import dev.quicfleet.worker.tls.TlsMaterial;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * An {@code https://} upstream whose ALPN picks HTTP/1.1: Debian's nginx with a TLS listener (nginx-light has no
 * HTTP/2 module, so it answers ALPN with {@code http/1.1}). The proxy then speaks HTTP/1.1 over TLS and keeps the
 * connection alive for the next request, as it does for {@code http://} upstreams. Client: curl over HTTP/2.
 */
class TlsHttp1UpstreamIT {

    private static final String LOG_FORMAT = "$request_uri|proto=$server_protocol|tls=$ssl_protocol"
            + "|sni=$ssl_server_name|connection=$connection|";

    private static Path dir;
    private static Nginx nginx;
    private static Worker worker;

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("quicfleet-tls-upstream-");
        // The development certificate (CN=localhost) serves as the upstream's certificate and as the CA to trust.
        TlsMaterial upstreamTls = TlsMaterial.developmentCertificate(dir.resolve("upstream-tls"), Clock.systemUTC());
        int tlsPort;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            tlsPort = probe.getLocalPort();
        }
        nginx = Nginx.start(dir, LOG_FORMAT, """
                listen 127.0.0.1:%d ssl;
                ssl_protocols TLSv1.2 TLSv1.3; # nginx 1.22's default stops at TLSv1.2
                ssl_certificate %s;
                ssl_certificate_key %s;
                location = /hello { return 200 "hello over tls\\n"; }
                """.formatted(tlsPort, upstreamTls.certFile(), upstreamTls.keyFile()));
        ProxyService proxy = new ProxyService(ProxyConfig.builder("https://127.0.0.1:" + tlsPort)
                .upstreamCa(upstreamTls.certFile())
                .upstreamServerName("localhost")
                .build());
        worker = new Worker(WorkerConfig.builder()
                .address(InetAddress.getLoopbackAddress())
                .port(0)
                .stateDir(dir.resolve("state"))
                .build(), Router.builder().route("/", proxy).build());
        worker.start().join();
    }

    @AfterAll
    static void stop() throws Exception {
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

    @Test
    void aTlsUpstreamThatPicksHttp11IsVerifiedAndKeptAlive() throws Exception {
        for (int i = 0; i < 3; i++) {
            Peers.Run run = Peers.run(List.of("curl", "-sS", "--http2", "--max-time", "30", "--cacert",
                    dir.resolve("state/dev-cert.pem").toString(),
                    "https://localhost:" + worker.port() + "/hello?tls-" + i), Duration.ofSeconds(40), null, null,
                    null);
            assertThat(run.stdoutText()).as(run.stderrText()).isEqualTo("hello over tls\n");
        }
        List<String> lines = new ArrayList<>();
        for (String line : nginx.accessLines()) {
            if (line.startsWith("/hello?tls-")) {
                lines.add(line);
            }
        }
        assertThat(lines).hasSize(3);
        assertThat(lines.get(0)).contains("|proto=HTTP/1.1|", "|tls=TLSv1.3|", "|sni=localhost|");
        String connection = lines.get(0).replaceAll(".*\\|connection=(\\d+)\\|.*", "$1");
        assertThat(lines).as("one kept-alive TLS connection for the three requests")
                .allMatch(line -> line.contains("|connection=" + connection + "|"));
    }
}
