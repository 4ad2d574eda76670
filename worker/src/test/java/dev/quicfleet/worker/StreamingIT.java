package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Server-sent events reach the client one by one as the handler flushes them (20 events, 50 ms apart), not all at
 * once when the handler returns.
 */
class StreamingIT {

    @RegisterExtension
    static RunningWorker worker = new RunningWorker();

    @Test
    void sseEventsArriveSpreadOverTimeOnHttp2() throws Exception {
        HttpClient client = TestClients.http(worker.stateDir(), HttpClient.Version.HTTP_2);
        HttpResponse<Stream<String>> response = client.send(HttpRequest.newBuilder(
                        URI.create("https://localhost:" + worker.port() + "/sse")).timeout(Duration.ofSeconds(30))
                .build(), HttpResponse.BodyHandlers.ofLines());
        assertThat(response.version()).isEqualTo(HttpClient.Version.HTTP_2);
        assertThat(response.headers().firstValue("content-type")).hasValue("text/event-stream; charset=utf-8");
        List<Long> arrivals = new ArrayList<>();
        long start = System.nanoTime();
        try (Stream<String> lines = response.body()) {
            lines.filter(line -> line.startsWith("data: {\"i\"")).forEach(line ->
                    arrivals.add((System.nanoTime() - start) / 1_000_000));
        }
        assertSpread(arrivals);
    }

    @Test
    void sseEventsArriveSpreadOverTimeOnHttp3() throws Exception {
        Path dir = worker.scratch("sse");
        // Without -q, gtlsclient logs "http: stream 0x0 body N bytes" as each piece of body arrives.
        Peers.Run run = Peers.gtlsclient(worker.port(), List.of("--no-quic-dump", "--download", dir.toString()),
                Duration.ofSeconds(30), "/sse");
        List<Long> arrivals = run.stderr().stream()
                .filter(line -> line.text().matches("http: stream 0x0 body \\d+ bytes"))
                .map(Peers.Line::millis)
                .toList();
        String body = Files.readString(dir.resolve("sse"));
        assertThat(body.lines().filter(l -> l.startsWith("data: {\"i\"")).count()).isEqualTo(20);
        assertThat(body).endsWith("event: done\ndata: {}\n\n");
        assertSpread(arrivals);
    }

    /** 20 events 50 ms apart take ~950 ms; delivered at the end they would arrive within a few ms. */
    private static void assertSpread(List<Long> arrivals) {
        assertThat(arrivals).hasSizeGreaterThanOrEqualTo(20);
        long first = arrivals.get(0);
        long last = arrivals.get(arrivals.size() - 1);
        assertThat(last - first).as("arrival times %s", arrivals).isGreaterThanOrEqualTo(600);
        long distinctTenths = arrivals.stream().map(t -> t / 100).distinct().count();
        assertThat(distinctTenths).as("arrival times %s", arrivals).isGreaterThanOrEqualTo(6);
    }
}
