package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quicfleet.http.Handler;
import dev.quicfleet.worker.tls.TlsMaterial;
import io.netty.handler.codec.http3.Http3Headers;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Response trailers reach the client: as a trailing HEADERS frame on HTTP/3, after the last chunk on HTTP/1.1. */
class TrailersTest {

    @TempDir
    Path tmp;
    private Worker worker;

    @BeforeEach
    void startWorker() {
        Handler withTrailer = (request, response) -> {
            response.header("content-type", "text/plain");
            response.trailers().set("x-checksum", "abc123");
            try (OutputStream out = response.body()) {
                out.write("body before the trailer\n".getBytes(StandardCharsets.UTF_8));
            }
        };
        worker = new Worker(WorkerConfig.builder().address(InetAddress.getLoopbackAddress()).port(0)
                .stateDir(tmp.resolve("state")).build(), withTrailer);
        worker.start().join();
    }

    @AfterEach
    void stopWorker() {
        worker.stop().join();
    }

    @Test
    void http3SendsTrailersAsAFinalHeadersFrame() throws Exception {
        var cert = TlsMaterial.developmentCertificate(tmp.resolve("state"), Clock.systemUTC()).leaf();
        try (TestH3Client client = new TestH3Client(worker.port(), cert, 1 << 20)) {
            TestH3Client.Exchange exchange = client.get("/", true);
            exchange.done.get(10, TimeUnit.SECONDS);
            assertThat(exchange.headerFrames).hasSize(2);
            Http3Headers head = exchange.headerFrames.get(0);
            Http3Headers trailers = exchange.headerFrames.get(1);
            assertThat(head.status().toString()).isEqualTo("200");
            assertThat(head.contains("x-checksum")).isFalse();
            assertThat(trailers.get("x-checksum").toString()).isEqualTo("abc123");
            assertThat(exchange.bodyBytes.get()).isEqualTo("body before the trailer\n".length());
        }
    }

    @Test
    void http1SendsTrailersAfterTheLastChunk() throws Exception {
        SSLSocket socket = (SSLSocket) TestClients.trusting(tmp.resolve("state/dev-cert.pem")).getSocketFactory()
                .createSocket(InetAddress.getLoopbackAddress(), worker.port());
        try (socket) {
            SSLParameters params = socket.getSSLParameters();
            params.setApplicationProtocols(new String[] {"http/1.1"});
            socket.setSSLParameters(params);
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(("GET / HTTP/1.1\r\nhost: localhost\r\nte: trailers\r\n"
                    + "connection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            String response = new String(socket.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
            assertThat(response).startsWith("HTTP/1.1 200 OK")
                    .containsIgnoringCase("transfer-encoding: chunked")
                    .endsWith("0\r\nx-checksum: abc123\r\n\r\n");
        }
    }
}
