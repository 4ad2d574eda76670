package dev.quicfleet.worker.example;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quicfleet.worker.Worker;
import dev.quicfleet.worker.WorkerConfig;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.HexFormat;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Keeps the documented example honest: it serves what docs/HANDLERS.md says it serves. */
class HandlerExampleTest {

    @TempDir
    Path tmp;
    private Worker worker;
    private HttpClient client;

    @BeforeEach
    void start() throws Exception {
        Path publicDir = Files.createDirectories(tmp.resolve("public"));
        Files.writeString(publicDir.resolve("index.html"), "<h1>static files work</h1>\n");
        worker = new Worker(WorkerConfig.builder().address(InetAddress.getLoopbackAddress()).port(0)
                .stateDir(tmp.resolve("state")).build(), HandlerExample.site(publicDir));
        worker.start().join();
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        try (InputStream in = Files.newInputStream(tmp.resolve("state/dev-cert.pem"))) {
            trust.setCertificateEntry("dev", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext ssl = SSLContext.getInstance("TLS");
        ssl.init(null, tmf.getTrustManagers(), null);
        client = HttpClient.newBuilder().sslContext(ssl).build();
    }

    @AfterEach
    void stop() {
        worker.stop().join();
    }

    private HttpResponse<String> call(HttpRequest.Builder request) throws Exception {
        return client.send(request.timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpRequest.Builder at(String path) {
        return HttpRequest.newBuilder(URI.create("https://localhost:" + worker.port() + path));
    }

    @Test
    void helloGreetsByName() throws Exception {
        assertThat(call(at("/hello?name=ada")).body()).isEqualTo("hello ada over h2\n");
    }

    @Test
    void sha256HashesTheStreamedBody() throws Exception {
        byte[] body = new byte[3_000_000];
        HttpResponse<String> response = call(at("/sha256").POST(HttpRequest.BodyPublishers.ofByteArray(body)));
        String expected = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body));
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).isEqualTo(expected + "  3000000 bytes\n");
        assertThat(call(at("/sha256")).statusCode()).isEqualTo(405);
    }

    @Test
    void countdownStreamsLines() throws Exception {
        assertThat(call(at("/countdown")).body()).isEqualTo("3\n2\n1\nlift-off\n");
    }

    @Test
    void publicServesStaticFiles() throws Exception {
        HttpResponse<String> response = call(at("/public/"));
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).isEqualTo("<h1>static files work</h1>\n");
        assertThat(response.headers().firstValue("etag")).isPresent();
    }
}
