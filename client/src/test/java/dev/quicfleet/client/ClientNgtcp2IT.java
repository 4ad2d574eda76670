package dev.quicfleet.client;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The client against the independent ngtcp2 server (GnuTLS, not quiche/BoringSSL) on loopback. */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ClientNgtcp2IT {

    private Gtlsserver server;

    @TempDir
    Path tmp;

    @BeforeEach
    void start() throws Exception {
        server = Gtlsserver.start();
        Files.writeString(server.file("hello.txt"), "hello from ngtcp2\n");
    }

    @AfterEach
    void stop() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    private String url(String path) {
        return "https://localhost:" + server.port() + path;
    }

    private H3Client.Builder trusting() {
        return H3Client.builder().trust(server.certificate());
    }

    @Test
    void getAFile() throws Exception {
        try (H3Client client = trusting().build()) {
            H3Response<byte[]> r = client.request(H3Request.get(url("/hello.txt")), BodyHandler.ofByteArray(1 << 16));
            assertThat(r.status()).isEqualTo(200);
            assertThat(new String(r.body(), StandardCharsets.UTF_8)).isEqualTo("hello from ngtcp2\n");
            assertThat(r.connection().protocol()).isEqualTo("h3");
        }
        assertThat(server.requestsLogged("/hello.txt")).isEqualTo(1);
    }

    @Test
    void post20MegabytesIsTakenWhole() throws Exception {
        // gtlsserver reads the whole body and answers with the file; flow control paces the upload
        byte[] body = new byte[20_000_000];
        new Random(3).nextBytes(body);
        Path file = Files.write(tmp.resolve("upload.bin"), body);
        try (H3Client client = trusting().build()) {
            H3Request post = H3Request.builder(URI.create(url("/hello.txt"))).method("POST")
                    .body(RequestBody.ofFile(file)).timeout(Duration.ofSeconds(60)).build();
            H3Response<byte[]> r = client.request(post, BodyHandler.ofByteArray(1 << 16));
            assertThat(r.status()).isEqualTo(200);
            assertThat(new String(r.body(), StandardCharsets.UTF_8)).isEqualTo("hello from ngtcp2\n");
            ConnectionStats stats = H3Client.await(r.connection().stats());
            assertThat(stats.bytesSent()).isGreaterThan(body.length);
        }
    }

    @Test
    void twoHundredConcurrentStreamsWaitForTheServersStreamLimit() throws Exception {
        // gtlsserver allows 100 concurrent streams: the other 100 wait for credit on the same connection
        Files.write(server.file("data.bin"), new byte[10_000]);
        try (H3Client client = trusting().build()) {
            H3Connection connection = H3Client.await(client.connect("localhost", server.port()));
            List<CompletableFuture<H3Response<Long>>> all = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                all.add(connection.send(H3Request.get(url("/data.bin")), BodyHandler.discarding()));
            }
            for (CompletableFuture<H3Response<Long>> f : all) {
                H3Response<Long> r = H3Client.await(f);
                assertThat(r.status()).isEqualTo(200);
                assertThat(r.body()).isEqualTo(10_000L);
                assertThat(r.connection()).isSameAs(connection);
            }
        }
        assertThat(server.requestsLogged("/data.bin")).isEqualTo(200);
    }

    @Test
    void sessionFileResumesWithZeroRttAcceptedAndARestartedServerRejectsIt() throws Exception {
        Path sessions = tmp.resolve("session");
        H3Connection first = get(sessions, true);
        assertThat(first.resumed()).isFalse();
        assertThat(first.earlyData()).isEqualTo(EarlyData.NOT_SENT);

        H3Connection second = get(sessions, true);
        assertThat(second.resumed()).isTrue();
        assertThat(second.earlyData()).isEqualTo(EarlyData.ACCEPTED);

        H3Connection withoutEarlyData = get(sessions, false);
        assertThat(withoutEarlyData.resumed()).isTrue();
        assertThat(withoutEarlyData.earlyData()).isEqualTo(EarlyData.OFF);

        // new process, new ticket keys: the stored ticket is useless, the 0-RTT request is refused and re-sent
        server.stop();
        server.launch();
        H3Connection afterRestart = get(sessions, true);
        assertThat(afterRestart.resumed()).isFalse();
        assertThat(afterRestart.earlyData()).isEqualTo(EarlyData.REJECTED);
        assertThat(server.requestsLogged("/hello.txt")).isEqualTo(1);
    }

    /** One GET of /hello.txt in a client of its own (as a new process would be) with the session file. */
    private H3Connection get(Path sessions, boolean earlyData) throws Exception {
        try (H3Client client = trusting().sessionStore(SessionStore.file(sessions)).earlyData(earlyData).build()) {
            H3Connection c = client.open("localhost", server.port());
            H3Response<byte[]> r = H3Client.await(c.send(H3Request.get(url("/hello.txt")),
                    BodyHandler.ofByteArray(1 << 16)));
            assertThat(r.status()).isEqualTo(200);
            assertThat(new String(r.body(), StandardCharsets.UTF_8)).isEqualTo("hello from ngtcp2\n");
            assertThat(r.sentEarly()).isEqualTo(c.earlyData().sent());
            H3Client.await(c.awaitTicket(Duration.ofSeconds(5)));
            H3Client.await(c.closeAsync());
            return c;
        }
    }
}
