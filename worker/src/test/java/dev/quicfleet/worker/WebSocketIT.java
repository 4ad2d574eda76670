package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * WebSocket against a real worker and the demo site's {@code /ws/echo} and {@code /ws/flood} handlers, with
 * independent clients: Debian's python3-websockets over HTTP/1.1 (RFC 6455 upgrade) and Node's own {@code http2}
 * module over HTTP/2 (RFC 8441 extended CONNECT, frames written by the script). The clients are
 * {@code src/test/resources/dev/quicfleet/worker/websocket/}.
 */
class WebSocketIT {

    static final String PYTHON = "/usr/bin/python3";
    static final String NODE = "/usr/bin/node";
    private static final int TEN_MB = 10 * 1024 * 1024;
    private static final ObjectMapper JSON = new ObjectMapper();

    @RegisterExtension
    static RunningWorker worker = new RunningWorker();

    private static Path python;
    private static Path node;

    @BeforeAll
    static void clients() throws Exception {
        Peers.requireInstalled(PYTHON);
        Peers.requireInstalled(NODE);
        python = Path.of(WebSocketIT.class.getResource("websocket/ws_client.py").toURI());
        node = Path.of(WebSocketIT.class.getResource("websocket/ws_h2_client.mjs").toURI());
    }

    // ---- HTTP/1.1 ----

    @Test
    void http1EchoesTenMegabytesInSmallMessagesByteExact() throws Exception {
        assertEchoed(run(PYTHON, python, "echo", "/ws/echo", TEN_MB, 4096));
    }

    @Test
    void http1PassesCloseCodesBothWays() throws Exception {
        assertThat(run(PYTHON, python, "close", "/ws/echo", 4000)).containsExactly("closed 4000");
        assertThat(run(PYTHON, python, "server-close", "/ws/echo", 4321)).containsExactly("closed 4321 server bye");
    }

    @Test
    void http1FrameOverTheLimitCloses1009() throws Exception {
        assertThat(run(PYTHON, python, "toobig", "/ws/echo", 64 * 1024 + 1))
                .containsExactly("closed 1009 frame of 65537 bytes (limit: 65536)");
    }

    @Test
    void http1PingsAreAnswered() throws Exception {
        assertThat(run(PYTHON, python, "ping", "/ws/echo")).containsExactly("pong");
    }

    /** A client that answers the server's pings outlives the 1 s idle timeout without sending anything else. */
    @Test
    void http1ClientAnsweringPingsOutlivesTheIdleTimeout() throws Exception {
        assertThat(run(PYTHON, python, "keepalive", "/ws/echo-short", 2500)).containsExactly("echo hi");
    }

    @Test
    void http1NonWebSocketRequestGets426() throws Exception {
        HttpClient client = TestClients.http(worker.stateDir(), HttpClient.Version.HTTP_1_1);
        HttpResponse<String> response = client.send(HttpRequest.newBuilder(
                URI.create("https://localhost:" + worker.port() + "/ws/echo")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(426);
        assertThat(response.headers().firstValue("sec-websocket-version")).hasValue("13");
    }

    /**
     * A client that stops reading while {@code /ws/flood} sends 64 MiB: the handler's send blocks with a bounded
     * amount out (socket buffers plus the session's 256 KiB), and everything arrives once the client reads again.
     */
    @Test
    void http1SlowReaderBlocksTheHandlersSend() throws Exception {
        assertSlowReaderBlocksTheHandler(PYTHON, python);
    }

    /** The same over HTTP/2: the stream's flow-control window, not the socket, stops the handler. */
    @Test
    void http2SlowReaderBlocksTheHandlersSend() throws Exception {
        assertSlowReaderBlocksTheHandler(NODE, node);
    }

    /**
     * The other direction: a handler that does not receive stops the client. {@code /ws/hold} receives nothing until
     * released; the client's sends stall after what the inbox (1 MiB) and the socket buffers hold, and all bytes are
     * counted once the handler receives.
     */
    @Test
    void http1HandlerThatStopsReceivingStallsTheClient() throws Exception {
        long total = 64L << 20;
        Process client = new ProcessBuilder(PYTHON, python.toString(), Integer.toString(worker.port()), "upload",
                "/ws/hold", Long.toString(total)).redirectErrorStream(true).start();
        List<String> lines = new CopyOnWriteArrayList<>();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(client.getInputStream(),
                StandardCharsets.UTF_8))) {
            Thread pump = Thread.ofPlatform().daemon().start(() -> {
                try {
                    for (String line; (line = out.readLine()) != null; ) {
                        lines.add(line);
                    }
                } catch (IOException e) {
                    // the client is gone
                }
            });
            // Wait (bounded) until the client got some out and then nothing more for a second.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            long sent;
            int seen = -1;
            while (true) {
                int now = lines.size();
                sent = lastSent(lines);
                if (now == seen && sent >= 1 << 20) {
                    break;
                }
                assertThat(System.nanoTime()).as("the client never stalled: %s", lines).isLessThan(deadline);
                seen = now;
                client.waitFor(1, TimeUnit.SECONDS); // a second in which a flowing client would print lines
            }
            assertThat(sent).as("bytes the client got out to a handler that receives nothing").isLessThan(total / 2);
            HttpClient http = TestClients.http(worker.stateDir(), HttpClient.Version.HTTP_1_1);
            assertThat(http.send(HttpRequest.newBuilder(URI.create("https://localhost:" + worker.port()
                    + "/ws/hold-release")).build(), HttpResponse.BodyHandlers.ofString()).body()).isEqualTo("released\n");
            assertThat(client.waitFor(60, TimeUnit.SECONDS)).isTrue();
            pump.join(5000);
            assertThat(lines).last().isEqualTo("count " + total);
            assertThat(client.exitValue()).isZero();
        } finally {
            client.destroyForcibly();
        }
    }

    private static long lastSent(List<String> lines) {
        long sent = 0;
        for (String line : lines) {
            if (line.startsWith("sent ")) {
                sent = Long.parseLong(line.substring(5).trim());
            }
        }
        return sent;
    }

    private static void assertSlowReaderBlocksTheHandler(String interpreter, Path script) throws Exception {
        long total = 64L << 20;
        Process client = new ProcessBuilder(interpreter, script.toString(), Integer.toString(worker.port()), "slow",
                "/ws/flood?bytes=" + total).redirectErrorStream(true).start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(client.getInputStream(),
                StandardCharsets.UTF_8)); OutputStream in = client.getOutputStream()) {
            assertThat(out.readLine()).isEqualTo("connected");
            HttpClient http = TestClients.http(worker.stateDir(), HttpClient.Version.HTTP_1_1);
            // Wait (bounded) until the flood is stuck: a send in progress and no byte more sent between two looks.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            JsonNode before = floodStatus(http);
            JsonNode now;
            while (true) {
                now = floodStatus(http);
                if (now.get("sending").asBoolean() && now.get("sent").asLong() == before.get("sent").asLong()
                        && now.get("sent").asLong() > 0) {
                    break;
                }
                assertThat(System.nanoTime()).as("the flood never stalled: %s", now).isLessThan(deadline);
                before = now;
                Thread.onSpinWait();
            }
            long stalledAt = now.get("sent").asLong();
            assertThat(stalledAt).as("bytes the handler got out to a client that reads nothing")
                    .isLessThan(16L << 20);
            assertThat(now.get("buffered").asLong()).isLessThanOrEqualTo(256 * 1024);
            in.write("read\n".getBytes(StandardCharsets.US_ASCII));
            in.flush();
            List<String> rest = new ArrayList<>();
            for (String line; (line = out.readLine()) != null; ) {
                rest.add(line);
            }
            assertThat(client.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(rest).hasSize(2);
            assertThat(rest.get(0)).startsWith("received " + total + " ");
            assertThat(rest.get(1)).isEqualTo("closed 1000 flood done");
            assertThat(floodStatus(http).get("sent").asLong()).isEqualTo(total);
            assertThat(client.exitValue()).isZero();
        } finally {
            client.destroyForcibly();
        }
    }

    private static JsonNode floodStatus(HttpClient http) throws Exception {
        return JSON.readTree(http.send(HttpRequest.newBuilder(
                URI.create("https://localhost:" + worker.port() + "/ws/flood-status")).build(),
                HttpResponse.BodyHandlers.ofString()).body());
    }

    // ---- HTTP/2 ----

    @Test
    void http2EchoesTenMegabytesInSmallMessagesByteExact() throws Exception {
        assertEchoed(run(NODE, node, "echo", "/ws/echo", TEN_MB, 4096));
    }

    @Test
    void http2PassesCloseCodesBothWays() throws Exception {
        assertThat(run(NODE, node, "close", "/ws/echo", 4000)).containsExactly("closed 4000");
        assertThat(run(NODE, node, "server-close", "/ws/echo", 4321)).containsExactly("closed 4321 server bye");
    }

    @Test
    void http2FrameOverTheLimitCloses1009() throws Exception {
        assertThat(run(NODE, node, "toobig", "/ws/echo", 64 * 1024 + 1))
                .containsExactly("closed 1009 frame of 65537 bytes (limit: 65536)");
    }

    /**
     * {@code /ws/echo-short}: 1 s idle timeout, a server ping after 300 ms of silence. This client answers no ping
     * (python3-websockets always does: see {@link #http1ClientAnsweringPingsOutlivesTheIdleTimeout}).
     */
    @Test
    void http2SilentClientIsClosedWith1001AfterTheIdleTimeout() throws Exception {
        assertThat(run(NODE, node, "idle", "/ws/echo-short")).containsExactly("closed 1001 idle timeout");
    }

    @Test
    void http2PlainGetGets426() throws Exception {
        assertThat(run(NODE, node, "plain", "/ws/echo")).containsExactly("status 426");
    }

    // ---- helpers ----

    private static void assertEchoed(List<String> lines) {
        assertThat(lines).hasSize(3);
        String[] sent = lines.get(0).split(" ");
        String[] received = lines.get(1).split(" ");
        assertThat(sent[0]).isEqualTo("sent");
        assertThat(received[0]).isEqualTo("received");
        assertThat(Long.parseLong(received[1])).isEqualTo(TEN_MB);
        assertThat(received[2]).isEqualTo(sent[2]);
        assertThat(lines.get(2)).startsWith("closed 1000");
    }

    /** Runs a client script to its end (bounded) and returns its stdout lines; fails on a non-zero exit. */
    private static List<String> run(String interpreter, Path script, String mode, String path, Object... args)
            throws Exception {
        List<String> command = new ArrayList<>(List.of(interpreter, script.toString(),
                Integer.toString(worker.port()), mode, path));
        for (Object a : args) {
            command.add(a.toString());
        }
        Peers.Run run = Peers.run(command, Duration.ofSeconds(60), null, l -> { }, l -> { });
        assertThat(run.exitCode()).as("%s\nstdout:\n%s\nstderr:\n%s", command, run.stdoutText(), run.stderrText())
                .isZero();
        return run.stdout().stream().map(Peers.Line::text).toList();
    }
}
