package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * WebSocket through the reverse proxy to an upstream the project did not write (a python3-websockets echo server):
 * an HTTP/1.1 upgrade from python3-websockets and an HTTP/2 extended CONNECT from Node both become an HTTP/1.1
 * {@code Upgrade: websocket} towards the upstream; bytes and close codes pass through.
 */
class ProxyWebSocketIT {

    private static Process upstream;
    private static final List<String> upstreamLines = new CopyOnWriteArrayList<>();

    @RegisterExtension
    static RunningWorker worker = new RunningWorker(dir -> new String[] {"--upstream",
            "http://127.0.0.1:" + startUpstream()});

    private static int startUpstream() {
        try {
            Peers.requireInstalled(WebSocketIT.PYTHON);
            Path script = Path.of(ProxyWebSocketIT.class.getResource("websocket/ws_upstream.py").toURI());
            upstream = new ProcessBuilder(WebSocketIT.PYTHON, script.toString()).redirectErrorStream(true).start();
            BufferedReader out = new BufferedReader(new InputStreamReader(upstream.getInputStream(),
                    StandardCharsets.UTF_8));
            String first = out.readLine(); // bounded: the process prints it at once or exits (null)
            assertThat(first).as("the upstream's first line").startsWith("listening ");
            Thread.ofPlatform().daemon().start(() -> {
                try {
                    for (String line; (line = out.readLine()) != null; ) {
                        upstreamLines.add(line);
                    }
                } catch (IOException e) {
                    // the upstream is gone
                }
            });
            return Integer.parseInt(first.substring("listening ".length()).trim());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @AfterAll
    static void stopUpstream() throws InterruptedException {
        if (upstream != null) {
            upstream.destroyForcibly();
            upstream.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static Path script(String name) throws URISyntaxException {
        return Path.of(ProxyWebSocketIT.class.getResource("websocket/" + name).toURI());
    }

    @Test
    void http1EchoesTenMegabytesThroughTheProxy() throws Exception {
        assertEchoed(run(WebSocketIT.PYTHON, script("ws_client.py"), "echo", "/anything", 10 << 20, 4096));
    }

    @Test
    void http2EchoesTenMegabytesThroughTheProxy() throws Exception {
        assertEchoed(run(WebSocketIT.NODE, script("ws_h2_client.mjs"), "echo", "/anything", 10 << 20, 4096));
    }

    @Test
    void closeCodesPassThroughBothWays() throws Exception {
        assertThat(run(WebSocketIT.PYTHON, script("ws_client.py"), "close", "/h1", 4000))
                .containsExactly("closed 4000 client bye");
        assertThat(run(WebSocketIT.PYTHON, script("ws_client.py"), "server-close", "/h1", 4321))
                .containsExactly("closed 4321 server bye");
        assertThat(run(WebSocketIT.NODE, script("ws_h2_client.mjs"), "close", "/h2", 4001))
                .containsExactly("closed 4001 client bye");
        assertThat(run(WebSocketIT.NODE, script("ws_h2_client.mjs"), "server-close", "/h2", 4322))
                .containsExactly("closed 4322 server bye");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!(upstreamLines.contains("closed 4000") && upstreamLines.contains("closed 4001"))) {
            assertThat(System.nanoTime()).as("the upstream saw %s", upstreamLines).isLessThan(deadline);
            Thread.onSpinWait();
        }
    }

    /**
     * A client that stops reading while the upstream floods it with 64 MiB: the tunnel stops reading the upstream, so
     * the upstream's own sends stall after what the sockets on the way hold, and everything arrives once the client
     * reads again.
     */
    @Test
    void http1SlowReaderStallsTheUpstream() throws Exception {
        long total = 64L << 20;
        Process client = new ProcessBuilder(WebSocketIT.PYTHON, script("ws_client.py").toString(),
                Integer.toString(worker.port()), "slow", "/flood?bytes=" + total).redirectErrorStream(true).start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(client.getInputStream(),
                StandardCharsets.UTF_8)); OutputStream in = client.getOutputStream()) {
            assertThat(out.readLine()).isEqualTo("connected");
            // Wait (bounded) until the upstream has sent some and then nothing more for a second.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            long sent = 0;
            int lines = -1;
            while (true) {
                int now = upstreamLines.size();
                sent = lastSent();
                if (now == lines && sent >= 1 << 20) {
                    break;
                }
                assertThat(System.nanoTime()).as("the upstream never stalled: %s", upstreamLines).isLessThan(deadline);
                lines = now;
                client.waitFor(1, TimeUnit.SECONDS); // a second in which a flowing upstream would print lines
            }
            assertThat(sent).as("bytes the upstream got out towards a client that reads nothing")
                    .isLessThan(total / 2);
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
            assertThat(lastSent()).isEqualTo(total);
        } finally {
            client.destroyForcibly();
        }
    }

    private static long lastSent() {
        long sent = 0;
        for (String line : upstreamLines) {
            if (line.startsWith("sent ")) {
                sent = Long.parseLong(line.substring(5).trim());
            }
        }
        return sent;
    }

    private static void assertEchoed(List<String> lines) {
        assertThat(lines).hasSize(3);
        assertThat(lines.get(1)).isEqualTo(lines.get(0).replace("sent", "received"));
        assertThat(lines.get(1)).startsWith("received " + (10 << 20) + " ");
        assertThat(lines.get(2)).startsWith("closed 1000");
    }

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
