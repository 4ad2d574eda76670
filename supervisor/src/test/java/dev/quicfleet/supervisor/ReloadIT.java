package dev.quicfleet.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGHUP under continuous HTTP/3 load, with the independent ngtcp2 client: new connections every few milliseconds and
 * event streams that span the reload. While a slot's old and new worker share its UDP socket, each passes the other
 * the packets that are not its own (worker {@code SlotHandover}); no request fails, no connection is refused.
 */
class ReloadIT {

    @TempDir
    Path tmp;

    private final ExecutorService clients = Executors.newFixedThreadPool(4);

    @AfterEach
    void stopClients() {
        clients.shutdownNow();
    }

    @Test
    void sighupUnderHttp3LoadFailsNoRequestAndRefusesNoConnection() throws Exception {
        try (SupervisorProcess supervisor = SupervisorProcess.start(tmp, "--workers", "2",
                "--metrics-address", "off")) {
            int port = supervisor.port();
            AtomicInteger ok = new AtomicInteger();
            AtomicInteger runs = new AtomicInteger();
            List<String> failures = new CopyOnWriteArrayList<>();
            AtomicBoolean stop = new AtomicBoolean();
            Runnable newConnections = () -> load(port, "/whoami", "\"protocol\" : \"h3\"", stop, runs, ok, failures);
            Runnable streams = () -> load(port, "/sse?n=20&interval=100ms", "event: done", stop, runs, ok, failures);
            List<CompletableFuture<Void>> load = List.of(CompletableFuture.runAsync(newConnections, clients),
                    CompletableFuture.runAsync(newConnections, clients), CompletableFuture.runAsync(streams, clients),
                    CompletableFuture.runAsync(streams, clients));
            awaitCount(ok, 20, Duration.ofSeconds(60));

            new ProcessBuilder("kill", "-HUP", Long.toString(supervisor.pid())).start().waitFor(10, TimeUnit.SECONDS);
            assertThat(supervisor.awaitStderr(l -> l.contains("reload complete"), Duration.ofSeconds(90)))
                    .as(supervisor.stderr()).isNotNull();
            // until both old workers have exited, then a little more load on the new ones
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (supervisor.stderr().lines().filter(l -> l.contains("previous worker pid")).count() < 2) {
                assertThat(System.nanoTime()).as(supervisor.stderr()).isLessThan(deadline);
                Thread.sleep(100);
            }
            awaitCount(ok, ok.get() + 10, Duration.ofSeconds(30));
            stop.set(true);
            CompletableFuture.allOf(load.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);

            System.out.printf("SIGHUP under HTTP/3 load: %d of %d requests completed; hand-over: %s%n", ok.get(),
                    runs.get(), supervisor.stderr().lines().filter(l -> l.contains("hand-over over")).toList());
            assertThat(failures).as("failed HTTP/3 requests during the reload; supervisor log:\n%s",
                    supervisor.stderr().lines().filter(l -> !l.contains(" DEBUG ")).toList().stream()
                            .reduce("", (a, b) -> a + b + "\n")).isEmpty();
            assertThat(supervisor.stderr()).contains("replaced by a reloaded worker: passing on new connections");
        }
    }

    /** Runs the ngtcp2 client against {@code path} on new connections until {@code stop}; records what failed. */
    private void load(int port, String path, String expected, AtomicBoolean stop, AtomicInteger runs,
                      AtomicInteger ok, List<String> failures) {
        while (!stop.get()) {
            int run = runs.incrementAndGet();
            try {
                Path download = Files.createDirectories(tmp.resolve("run-" + run));
                Path log = tmp.resolve("run-" + run + ".log");
                Process client = new ProcessBuilder("/usr/bin/gtlsclient", "-q", "--exit-on-all-streams-close",
                        "--handshake-timeout=5s", "--timeout=5s", "--download", download.toString(), "127.0.0.1",
                        Integer.toString(port), "https://localhost:" + port + path)
                        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
                if (!client.waitFor(30, TimeUnit.SECONDS)) {
                    client.destroyForcibly(); // by its own handle (pid), never by name
                }
                Path body;
                try (var files = Files.list(download)) {
                    body = files.findFirst().orElse(null);
                }
                if (body != null && Files.readString(body).contains(expected)) {
                    ok.incrementAndGet();
                } else {
                    failures.add(path + " run " + run + ": " + Files.readString(log).strip());
                }
            } catch (Exception e) {
                failures.add(path + " run " + run + ": " + e);
            }
        }
    }

    private static void awaitCount(AtomicInteger counter, long atLeast, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (counter.get() < atLeast) {
            assertThat(System.nanoTime()).as("count %d reached %d", counter.get(), atLeast).isLessThan(deadline);
            Thread.sleep(50);
        }
    }
}
