package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@code --static-dir}: a worker process serving a directory over HTTP/3 and HTTP/2. */
class StaticFilesIT {

    static final byte[] DATA = new byte[300_000];

    @RegisterExtension
    static RunningWorker worker = new RunningWorker(dir -> {
        try {
            Path www = Files.createDirectories(dir.resolve("www/css"));
            new Random(3).nextBytes(DATA);
            Files.write(dir.resolve("www/data.bin"), DATA);
            Files.writeString(www.resolve("site.css"), "body { color: teal }\n");
            return new String[] {"--static-dir", dir.resolve("www").toString()};
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    });

    @Test
    void servesFilesOverHttp3() throws Exception {
        Path dir = worker.scratch("h3");
        Peers.Run run = Peers.gtlsclient(worker.port(), List.of("-q", "--download", dir.toString()),
                Duration.ofSeconds(30), "/static/data.bin", "/static/css/site.css");
        assertThat(Files.readAllBytes(dir.resolve("data.bin"))).as(run.stderrText()).isEqualTo(DATA);
        assertThat(Files.readString(dir.resolve("site.css"))).isEqualTo("body { color: teal }\n");
    }

    @Test
    void conditionalAndRangeRequestsOverHttp2() throws Exception {
        HttpClient client = TestClients.http(worker.stateDir(), HttpClient.Version.HTTP_2);
        URI uri = URI.create("https://localhost:" + worker.port() + "/static/data.bin");
        HttpResponse<byte[]> full = client.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertThat(full.statusCode()).isEqualTo(200);
        assertThat(full.body()).isEqualTo(DATA);
        String etag = full.headers().firstValue("etag").orElseThrow();
        assertThat(full.headers().firstValue("last-modified")).isPresent();
        assertThat(full.headers().firstValue("content-type")).hasValue("application/octet-stream");

        HttpResponse<byte[]> notModified = client.send(HttpRequest.newBuilder(uri).header("if-none-match", etag)
                .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofByteArray());
        assertThat(notModified.statusCode()).isEqualTo(304);
        assertThat(notModified.body()).isEmpty();

        HttpResponse<byte[]> range = client.send(HttpRequest.newBuilder(uri).header("range", "bytes=1000-1999")
                .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofByteArray());
        assertThat(range.statusCode()).isEqualTo(206);
        assertThat(range.headers().firstValue("content-range")).hasValue("bytes 1000-1999/300000");
        assertThat(range.body()).isEqualTo(java.util.Arrays.copyOfRange(DATA, 1000, 2000));

        HttpResponse<byte[]> escape = client.send(HttpRequest.newBuilder(
                        URI.create("https://localhost:" + worker.port() + "/static/%2e%2e/state/dev-key.pem"))
                .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofByteArray());
        assertThat(escape.statusCode()).isEqualTo(404);
    }
}
