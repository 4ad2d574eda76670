package dev.quicfleet.supervisor;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real supervisor process (the packaged jar, as {@code ./scripts/supervisor} runs it) with real worker JVMs, on
 * 127.0.0.1 and a free port. Every wait is bounded; {@link #close()} kills the supervisor and every worker it
 * started, by pid.
 */
public final class SupervisorProcess implements AutoCloseable {

    private static final Pattern METRICS_URL = Pattern.compile("metrics: (http://[0-9.]+:\\d+/metrics)");
    private static final Pattern READY = Pattern.compile("ready: (\\d+) workers, udp\\+tcp (\\d+), transport (\\S+)");

    private final Process process;
    private final List<String> stdout = new CopyOnWriteArrayList<>();
    private final List<String> stderr = new CopyOnWriteArrayList<>();
    private final Path controlSocket;
    private int port;

    private SupervisorProcess(Process process, Path controlSocket) {
        this.process = process;
        this.controlSocket = controlSocket;
        pump(process.getInputStream(), stdout);
        pump(process.getErrorStream(), stderr);
    }

    public static SupervisorProcess start(Path dir, String... args) throws IOException, InterruptedException {
        return start(dir, Map.of(), args);
    }

    /** Starts it with {@code environment} added to this JVM's, and waits for its "ready:" line. */
    static SupervisorProcess start(Path dir, Map<String, String> environment, String... args)
            throws IOException, InterruptedException {
        SupervisorProcess supervisor = launch(dir, environment, args);
        String ready = supervisor.await(supervisor.stdout, l -> l.startsWith("ready:"), Duration.ofSeconds(90));
        if (ready == null) {
            supervisor.close();
            throw new AssertionError("supervisor not ready within 90s; stderr:\n" + supervisor.stderr());
        }
        Matcher m = READY.matcher(ready);
        if (!m.find()) {
            throw new AssertionError("unexpected ready line: " + ready);
        }
        supervisor.port = Integer.parseInt(m.group(2));
        return supervisor;
    }

    static SupervisorProcess launch(Path dir, String... args) throws IOException {
        return launch(dir, Map.of(), args);
    }

    static SupervisorProcess launch(Path dir, Map<String, String> environment, String... args)
            throws IOException {
        return launchUnder(List.of(), dir, environment, args);
    }

    /** {@link #launch} with {@code prefix} in front of the java command: {@code nohup}, say. */
    static SupervisorProcess launchUnder(List<String> prefix, Path dir, Map<String, String> environment,
                                         String... args) throws IOException {
        Path root = root();
        List<String> flags = new ArrayList<>(List.of(root.resolve("scripts/jvm/base.options").toString()));
        if (Runtime.version().feature() >= 23) {
            flags.add(root.resolve("scripts/jvm/jdk23.options").toString());
        }
        List<String> command = new ArrayList<>(prefix);
        command.add(ProcessHandle.current().info().command().orElse("java"));
        flags.forEach(f -> command.add("@" + f));
        command.add("-Dquicfleet.jvm.argfiles=" + String.join(":", flags));
        // As scripts/supervisor does: a crash report goes to the state directory, never the working directory.
        List<String> given = List.of(args);
        int stateDir = given.indexOf("--state-dir");
        command.add("-XX:ErrorFile=" + (stateDir >= 0 ? Path.of(given.get(stateDir + 1)) : dir.resolve("state"))
                .resolve("hs_err_pid%p.log"));
        command.add("-jar");
        command.add(System.getProperty("quicfleet.supervisor.jar",
                root.resolve("supervisor/target/quicfleet-supervisor.jar").toString()));
        Path control = dir.resolve("control.sock");
        for (String[] option : new String[][] {{"--address", "127.0.0.1"}, {"--port", "0"},
                {"--state-dir", dir.resolve("state").toString()}, {"--control-socket", control.toString()},
                {"--worker-heap", "256m"}}) {
            if (!given.contains(option[0])) {
                command.addAll(List.of(option));
            }
        }
        command.addAll(given);
        command.addAll(List.of("--worker-jar", System.getProperty("quicfleet.worker.jar",
                root.resolve("worker/target/quicfleet-worker.jar").toString())));
        ProcessBuilder builder = new ProcessBuilder(command);
        builder.environment().putAll(environment);
        return new SupervisorProcess(builder.start(), control);
    }

    public static Path root() {
        String root = System.getProperty("quicfleet.root");
        Path path = root != null ? Path.of(root) : Path.of("..").toAbsolutePath().normalize();
        if (!Files.isDirectory(path.resolve("scripts/jvm"))) {
            throw new IllegalStateException("cannot find the repository root (scripts/jvm) at " + path);
        }
        return path;
    }

    public int port() {
        return port;
    }

    long pid() {
        return process.pid();
    }

    Path controlSocket() {
        return controlSocket;
    }

    /** What it printed on stdout so far. */
    public String stdout() {
        return String.join("\n", stdout);
    }

    public String stderr() {
        return String.join("\n", stderr);
    }

    /** The worker pids the supervisor started (its child processes that run the worker jar). */
    public List<Long> workerPids() {
        return process.descendants().filter(p -> p.info().commandLine().orElse("").contains("quicfleet-worker"))
                .map(ProcessHandle::pid).toList();
    }

    /** The cluster's metrics endpoint, from the supervisor's "metrics: URL" log line (needs --metrics-address). */
    public java.net.URI metricsUri() throws InterruptedException {
        String line = awaitStderr(l -> METRICS_URL.matcher(l).find(), Duration.ofSeconds(10));
        if (line == null) {
            throw new AssertionError("no \"metrics:\" line within 10s; stderr:\n" + stderr());
        }
        Matcher m = METRICS_URL.matcher(line);
        m.find();
        return java.net.URI.create(m.group(1));
    }

    /** One scrape of the cluster's metrics endpoint (text format). */
    public String scrape() throws Exception {
        var response = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(metricsUri())
                .timeout(Duration.ofSeconds(10)).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
            throw new AssertionError("metrics scrape: HTTP " + response.statusCode());
        }
        return response.body();
    }

    /** The sum of the samples of {@code family} whose label set contains every one of {@code labels}. */
    public static double sum(String scrape, String family, String... labels) {
        double sum = 0;
        for (String line : scrape.lines().toList()) {
            if ((line.startsWith(family + "{") || line.startsWith(family + " "))
                    && java.util.Arrays.stream(labels).allMatch(line::contains)) {
                sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return sum;
    }

    /** SIGTERM (through the handle: Process.destroy() would also close our pipes). */
    void terminate() {
        process.toHandle().destroy();
    }

    int awaitExit(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError("supervisor still running after " + timeout + "; stderr:\n" + stderr());
        }
        await(stderr, l -> false, Duration.ofMillis(200));
        return process.exitValue();
    }

    public String awaitStderr(Predicate<String> test, Duration timeout) throws InterruptedException {
        return await(stderr, test, timeout);
    }

    private String await(List<String> lines, Predicate<String> test, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            for (String line : lines) {
                if (test.test(line)) {
                    return line;
                }
            }
            if (System.nanoTime() > deadline || (!process.isAlive() && lines == stdout)) {
                return null;
            }
            synchronized (lines) {
                lines.wait(50);
            }
        }
    }

    private static void pump(InputStream in, List<String> sink) {
        Thread.ofPlatform().daemon().start(() -> {
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                for (String line; (line = reader.readLine()) != null; ) {
                    sink.add(line);
                    synchronized (sink) {
                        sink.notifyAll();
                    }
                }
            } catch (IOException e) {
                // gone
            }
        });
    }

    /** Kills the supervisor and every process it started, by pid, and waits (bounded) for them. */
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
            // best effort; nothing else to do in a test's cleanup
        }
        // A killed supervisor leaves its shared map on tmpfs (memory): remove it.
        if (port > 0) {
            Path map = Path.of("/dev/shm", "quicfleet-" + port);
            try (var files = Files.walk(map)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException e) {
                // not there
            }
        }
    }
}
