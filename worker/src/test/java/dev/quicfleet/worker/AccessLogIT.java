package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The access log of a real worker process: one JSON line per request on HTTP/3 (ngtcp2's client), HTTP/2 and
 * HTTP/1.1 with the fields the docs promise, and a SIGUSR1 rotation under load that loses no line.
 */
class AccessLogIT {

    @RegisterExtension
    static RunningWorker worker = new RunningWorker(dir -> new String[] {
            "--access-log", logDirectory(dir).resolve("access-{slot}.log").toString(), "--access-log-format", "json"});

    /** Where the worker writes: {@code {slot}} became 0. */
    private static Path logFile() {
        return worker.file("logs").resolve("access-0.log");
    }

    /** The log directory, made before the worker starts (the worker does not create directories, as nginx). */
    private static Path logDirectory(Path dir) {
        try {
            return Files.createDirectories(dir.resolve("logs"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void everyProtocolGetsALineWithItsFields() throws Exception {
        String tag = "fields-" + System.nanoTime();
        // HTTP/3: ngtcp2's client, a GET and a 3,000-byte POST
        Path upload = worker.file(tag + ".bin");
        Files.write(upload, new byte[3000]);
        Peers.Run h3 = Peers.gtlsclient(worker.port(), List.of("-q"),
                Duration.ofSeconds(30), "/bytes/1234?" + tag + "-h3");
        assertThat(h3.stderrText()).doesNotContain("ERR_");
        Peers.Run post = Peers.gtlsclient(worker.port(), List.of("-q", "-m", "POST", "-d", upload.toString()), Duration.ofSeconds(30), "/echo?" + tag + "-post");
        assertThat(post.stderrText()).doesNotContain("ERR_");
        // HTTP/2 and HTTP/1.1: the JDK's client
        for (HttpClient.Version version : List.of(HttpClient.Version.HTTP_2, HttpClient.Version.HTTP_1_1)) {
            HttpResponse<byte[]> response = TestClients.http(worker.stateDir(), version).send(HttpRequest.newBuilder(
                    URI.create("https://localhost:" + worker.port() + "/bytes/99?" + tag + "-" + version))
                    .header("user-agent", "quicfleet \"test\"").header("referer", "https://example.test/")
                    .build(), HttpResponse.BodyHandlers.ofByteArray());
            assertThat(response.statusCode()).isEqualTo(200);
            assertThat(response.version()).isEqualTo(version);
        }
        List<JsonNode> lines = awaitLines(tag, 4);

        JsonNode h3Line = only(lines, tag + "-h3");
        assertThat(h3Line.get("protocol").asText()).isEqualTo("HTTP/3.0");
        assertThat(h3Line.get("method").asText()).isEqualTo("GET");
        assertThat(h3Line.get("path").asText()).isEqualTo("/bytes/1234?" + tag + "-h3");
        assertThat(h3Line.get("status").asInt()).isEqualTo(200);
        assertThat(h3Line.get("bytes_out").asLong()).isEqualTo(1234);
        assertThat(h3Line.get("bytes_in").asLong()).isZero();
        assertThat(h3Line.get("client").asText()).isEqualTo("127.0.0.1");
        assertThat(h3Line.get("authority").asText()).contains(":" + worker.port());
        assertThat(h3Line.get("slot").asInt()).isZero();
        assertThat(h3Line.get("early_data").asBoolean()).isFalse();
        assertThat(h3Line.get("tls_resumed").isBoolean()).isTrue();
        assertThat(h3Line.get("duration_ms").asDouble()).isGreaterThanOrEqualTo(0.0);
        assertThat(h3Line.get("upstream").isNull()).isTrue();
        assertThat(h3Line.get("failure").isNull()).isTrue();
        assertThat(h3Line.get("time").asText()).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?Z");

        JsonNode postLine = only(lines, tag + "-post");
        assertThat(postLine.get("method").asText()).isEqualTo("POST");
        assertThat(postLine.get("bytes_in").asLong()).isEqualTo(3000);
        assertThat(postLine.get("bytes_out").asLong()).isEqualTo(3000);

        JsonNode h2Line = only(lines, tag + "-HTTP_2");
        assertThat(h2Line.get("protocol").asText()).isEqualTo("HTTP/2.0");
        assertThat(h2Line.get("bytes_out").asLong()).isEqualTo(99);
        assertThat(h2Line.get("user_agent").asText()).isEqualTo("quicfleet \"test\"");
        assertThat(h2Line.get("referer").asText()).isEqualTo("https://example.test/");

        JsonNode h1Line = only(lines, tag + "-HTTP_1_1");
        assertThat(h1Line.get("protocol").asText()).isEqualTo("HTTP/1.1");
        assertThat(h1Line.get("status").asInt()).isEqualTo(200);
    }

    @Test
    void aResponseTheClientAbandonsIsLoggedWithTheBytesThatLeft() throws Exception {
        String tag = "abandoned-" + System.nanoTime();
        // HTTP/1.1 by hand: ask for 64 MiB, read the head, then close the connection mid-body
        try (Socket plain = new Socket();
             SSLSocket socket = TestClients.http1Socket(plain, worker.port(), worker.stateDir().resolve("dev-cert.pem"),
                     16 * 1024)) {
            OutputStream out = socket.getOutputStream();
            out.write(("GET /bytes/67108864?" + tag + " HTTP/1.1\r\nhost: localhost\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            assertThat(new String(in.readNBytes(12), StandardCharsets.US_ASCII)).isEqualTo("HTTP/1.1 200");
        }
        JsonNode line = only(awaitLines(tag, 1), tag);
        // the head went out (200), most of the body did not
        assertThat(line.get("status").asInt()).isEqualTo(200);
        assertThat(line.get("bytes_out").asLong()).isLessThan(67_108_864L);
    }

    /**
     * logrotate's way: rename the file, SIGUSR1, and the worker writes to a new file at the old path. Under load from
     * 4 HTTP/2 clients, every request answered must have its line in one of the two files.
     */
    @Test
    void rotationBySigusr1UnderLoadLosesNoLine() throws Exception {
        String tag = "rotation-" + System.nanoTime();
        HttpClient client = TestClients.http(worker.stateDir(), HttpClient.Version.HTTP_2);
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicInteger answered = new AtomicInteger();
        ExecutorService load = Executors.newFixedThreadPool(4);
        List<Future<?>> clients = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            clients.add(load.submit(() -> {
                while (running.get()) {
                    HttpResponse<Void> response = client.send(HttpRequest.newBuilder(URI.create(
                            "https://localhost:" + worker.port() + "/bytes/100?" + tag)).build(),
                            HttpResponse.BodyHandlers.discarding());
                    if (response.statusCode() == 200) {
                        answered.incrementAndGet();
                    }
                }
                return null;
            }));
        }
        try {
            await(() -> answered.get() >= 300, Duration.ofSeconds(30), "300 requests answered before the rotation");
            Path rotated = logFile().resolveSibling("access-0.log.1");
            Files.move(logFile(), rotated);
            int atRotation = answered.get();
            Process kill = new ProcessBuilder("kill", "-USR1", Long.toString(worker.process().pid())).start();
            assertThat(kill.waitFor(10, TimeUnit.SECONDS) && kill.exitValue() == 0).isTrue();
            await(() -> Files.exists(logFile()), Duration.ofSeconds(10), "the reopened access log");
            await(() -> answered.get() >= atRotation + 300, Duration.ofSeconds(30), "300 more requests after it");
        } finally {
            running.set(false);
            for (Future<?> c : clients) {
                c.get(30, TimeUnit.SECONDS);
            }
            load.shutdown();
        }
        int total = answered.get();
        Path rotated = logFile().resolveSibling("access-0.log.1");
        await(() -> count(rotated, tag) + count(logFile(), tag) >= total, Duration.ofSeconds(10),
                "a line for each of the " + total + " requests");
        // lines still queued at the reopen go to the new file: only the sum is exact
        assertThat(count(rotated, tag)).as("lines written before the reopen").isGreaterThan(0);
        assertThat(count(logFile(), tag)).as("lines written after it").isGreaterThan(0);
        assertThat(count(rotated, tag) + count(logFile(), tag)).isEqualTo(total);
        assertThat(worker.process().stdout() + worker.process().stderr()).contains("reopened");
    }

    private static long count(Path file, String tag) {
        return completeLines(file).stream().filter(l -> l.contains(tag)).count();
    }

    /**
     * The lines of an access log that end in a newline: a line the writer is appending at this moment may be read
     * half-written, and is left for the next read.
     */
    static List<String> completeLines(Path file) {
        if (!Files.exists(file)) {
            return List.of();
        }
        try {
            String text = Files.readString(file);
            int end = text.lastIndexOf('\n');
            return end < 0 ? List.of() : text.substring(0, end).lines().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Waits (the writer flushes at least once a second) for {@code n} lines naming {@code tag}, and parses them. */
    private static List<JsonNode> awaitLines(String tag, int n) throws Exception {
        await(() -> count(logFile(), tag) >= n, Duration.ofSeconds(10), n + " lines with " + tag);
        ObjectMapper json = new ObjectMapper();
        List<JsonNode> parsed = new ArrayList<>();
        for (String line : completeLines(logFile())) {
            if (line.contains(tag)) {
                parsed.add(json.readTree(line));
            }
        }
        return parsed;
    }

    private static JsonNode only(List<JsonNode> lines, String pathPart) {
        List<JsonNode> matching = lines.stream().filter(l -> l.get("path").asText().contains(pathPart)).toList();
        assertThat(matching).as("lines for %s in %s", pathPart, lines).hasSize(1);
        return matching.getFirst();
    }

    private static void await(BooleanSupplier condition, Duration bound, String what) throws InterruptedException {
        long deadline = System.nanoTime() + bound.toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime() - deadline).as("waited %s for %s", bound, what).isNegative();
            Thread.sleep(50);
        }
    }
}
