package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A drain closes open WebSocket sessions with {@code 1001} at its start, so the worker exits long before its drain
 * deadline instead of cutting them off there.
 */
class WebSocketDrainIT {

    @TempDir
    Path tmp;

    @Test
    void drainClosesSessionsWith1001() throws Exception {
        Peers.requireInstalled(WebSocketIT.PYTHON);
        Path script = Path.of(WebSocketDrainIT.class.getResource("websocket/ws_client.py").toURI());
        try (WorkerProcess worker = WorkerProcess.start(tmp.resolve("state"), "--drain-timeout", "30s")) {
            Process client = new ProcessBuilder(WebSocketIT.PYTHON, script.toString(),
                    Integer.toString(worker.port()), "wait", "/ws/echo").redirectErrorStream(true).start();
            try (BufferedReader out = new BufferedReader(new InputStreamReader(client.getInputStream(),
                    StandardCharsets.UTF_8))) {
                assertThat(out.readLine()).isEqualTo("connected");
                long start = System.nanoTime();
                worker.terminate();
                assertThat(out.readLine()).isEqualTo("closed 1001 server going away");
                assertThat(worker.awaitExit(Duration.ofSeconds(40))).as(worker.stderr()).isZero();
                long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
                assertThat(millis).as("exit took %d ms with a 30 s drain deadline", millis).isLessThan(15_000);
            } finally {
                client.destroyForcibly();
            }
        }
    }
}
