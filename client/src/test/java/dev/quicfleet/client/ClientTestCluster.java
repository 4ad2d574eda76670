package dev.quicfleet.client;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A real cluster for the client's tests: the packaged supervisor jar (what {@code ./scripts/supervisor} runs) with
 * real worker JVMs, on 127.0.0.1, a free port and a free metrics port. It reloads on {@link #reload()} (SIGHUP: each
 * worker is replaced, and the old one sends GOAWAY on its connections while it drains), and serves the cluster's
 * metrics. Every wait is bounded; {@link #close()} kills the supervisor and the workers it started, by pid.
 */
final class ClientTestCluster implements AutoCloseable {

    private static final Pattern READY = Pattern.compile("ready: (\\d+) workers, udp\\+tcp (\\d+), transport");
    private static final Pattern METRICS_URL = Pattern.compile("metrics: (http://[0-9.]+:\\d+/metrics)");

    private final Process process;
    private final Path dir;
    private final List<String> stdout = new CopyOnWriteArrayList<>();
    private final List<String> stderr = new CopyOnWriteArrayList<>();
    private int port;

    private ClientTestCluster(Process process, Path dir) {
        this.process = process;
        this.dir = dir;
        pump(process.getInputStream(), stdout);
        pump(process.getErrorStream(), stderr);
    }

    /** Starts a supervisor with {@code args} (e.g. {@code --workers 1}) and waits (bounded) until it is ready. */
    static ClientTestCluster start(Path dir, String... args) throws IOException, InterruptedException {
        Path root = root();
        List<String> argFiles = new ArrayList<>(List.of(root.resolve("scripts/jvm/base.options").toString()));
        if (Runtime.version().feature() >= 23) {
            argFiles.add(root.resolve("scripts/jvm/jdk23.options").toString());
        }
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        argFiles.forEach(f -> command.add("@" + f));
        command.add("-Dquicfleet.jvm.argfiles=" + String.join(":", argFiles));
        command.add("-jar");
        command.add(System.getProperty("quicfleet.supervisor.jar",
                root.resolve("supervisor/target/quicfleet-supervisor.jar").toString()));
        command.addAll(List.of("--address", "127.0.0.1", "--port", "0", "--state-dir", dir.resolve("state").toString(),
                "--control-socket", dir.resolve("control.sock").toString(), "--worker-heap", "256m",
                "--metrics-address", "127.0.0.1:0"));
        command.addAll(List.of(args));
        command.addAll(List.of("--worker-jar", System.getProperty("quicfleet.worker.jar",
                root.resolve("worker/target/quicfleet-worker.jar").toString())));
        ClientTestCluster cluster = new ClientTestCluster(new ProcessBuilder(command).start(), dir);
        // Generous: on a busy 2-CPU machine a worker JVM took 13 s to start.
        String ready = cluster.await(cluster.stdout, l -> l.startsWith("ready:"), Duration.ofSeconds(120));
        Matcher m = ready == null ? null : READY.matcher(ready);
        if (m == null || !m.find()) {
            cluster.close();
            throw new AssertionError("supervisor not ready within 120s (" + ready + "); stderr:\n" + cluster.stderr());
        }
        cluster.port = Integer.parseInt(m.group(2));
        return cluster;
    }

    private static Path root() {
        return Path.of(System.getProperty("quicfleet.root", "..")).toAbsolutePath().normalize();
    }

    /** The UDP (and TCP) port every worker serves. */
    int port() {
        return port;
    }

    /** The workers' development certificate (PEM). */
    Path certificate() {
        return dir.resolve("state").resolve("dev-cert.pem");
    }

    long pid() {
        return process.pid();
    }

    /** The worker pids the supervisor started (its child processes that run the worker jar). */
    List<Long> workerPids() {
        return process.descendants().filter(p -> p.info().commandLine().orElse("").contains("quicfleet-worker"))
                .map(ProcessHandle::pid).toList();
    }

    String stderr() {
        return String.join("\n", stderr);
    }

    /** SIGHUP: the supervisor replaces each worker; the old one sends GOAWAY and drains. */
    void reload() throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", "-HUP", Long.toString(pid())).start();
        if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
            throw new AssertionError("kill -HUP " + pid() + " failed");
        }
    }

    /** Waits (bounded) for a line the supervisor or a worker logged that matches {@code test}; null if none came. */
    String awaitStderr(Predicate<String> test, Duration timeout) throws InterruptedException {
        return await(stderr, test, timeout);
    }

    /** One scrape of the cluster's metrics endpoint (text format). */
    String scrape() throws IOException, InterruptedException {
        String line = awaitStderr(l -> METRICS_URL.matcher(l).find(), Duration.ofSeconds(10));
        if (line == null) {
            throw new AssertionError("no \"metrics:\" line within 10s; stderr:\n" + stderr());
        }
        Matcher m = METRICS_URL.matcher(line);
        m.find();
        try (HttpClient http = HttpClient.newHttpClient()) {
            HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(m.group(1)))
                    .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() != 200) {
                throw new AssertionError("metrics scrape: HTTP " + response.statusCode());
            }
            return response.body();
        }
    }

    /** The sum of the samples of {@code family} whose labels contain each of {@code labels}. */
    static double sum(String scrape, String family, String... labels) {
        double sum = 0;
        for (String line : scrape.lines().toList()) {
            if ((line.startsWith(family + "{") || line.startsWith(family + " "))
                    && Arrays.stream(labels).allMatch(line::contains)) {
                sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return sum;
    }

    private String await(List<String> lines, Predicate<String> test, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            for (String line : lines) {
                if (test.test(line)) {
                    return line;
                }
            }
            if (System.nanoTime() > deadline || !process.isAlive()) {
                return null;
            }
            synchronized (lines) {
                lines.wait(50);
            }
        }
    }

    private static void pump(InputStream in, List<String> sink) {
        Thread.ofPlatform().daemon().name("cluster-output").start(() -> {
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                for (String line; (line = reader.readLine()) != null; ) {
                    sink.add(line);
                    synchronized (sink) {
                        sink.notifyAll();
                    }
                }
            } catch (IOException e) {
                // process gone
            }
        });
    }

    /** Kills the supervisor and every process it started, by pid, waits (bounded), and removes its shared map. */
    @Override
    public void close() {
        List<ProcessHandle> all = new ArrayList<>(process.descendants().toList());
        process.toHandle().destroyForcibly();
        all.forEach(ProcessHandle::destroyForcibly);
        try {
            process.waitFor(10, TimeUnit.SECONDS);
            for (ProcessHandle handle : all) {
                handle.onExit().get(10, TimeUnit.SECONDS);
            }
        } catch (Exception e) {
            // best effort in a test's cleanup
        }
        // A killed supervisor leaves its shared map on tmpfs (memory).
        if (port > 0) {
            try (Stream<Path> files = Files.walk(Path.of("/dev/shm", "quicfleet-" + port))) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException e) {
                // not there
            }
        }
    }
}
