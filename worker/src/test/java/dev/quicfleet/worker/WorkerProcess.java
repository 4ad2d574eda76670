package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;

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
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real worker process started from the packaged jar (what {@code ./scripts/worker} runs), on 127.0.0.1 and a free
 * port. Waits for its readiness line; every wait is bounded; {@link #close()} kills it by pid.
 */
final class WorkerProcess implements AutoCloseable {

    private static final Pattern READY = Pattern.compile("ready: worker (\\d+) pid (\\d+) udp\\+tcp (\\S+):(\\d+) "
            + "transport (\\S+)");

    private final Process process;
    private final List<String> stdout = new CopyOnWriteArrayList<>();
    private final List<String> stderr = new CopyOnWriteArrayList<>();
    private int port;
    private String transport;

    private WorkerProcess(Process process) {
        this.process = process;
        pump(process.getInputStream(), stdout);
        pump(process.getErrorStream(), stderr);
    }

    /** Starts a worker and waits (bounded) until it is ready. */
    static WorkerProcess start(Path stateDir, String... args) throws IOException, InterruptedException {
        WorkerProcess worker = launch(stateDir, args);
        String ready = worker.awaitLine(worker.stdout, line -> line.startsWith("ready:"), Duration.ofSeconds(60));
        if (ready == null) {
            worker.close();
            throw new AssertionError("worker did not become ready within 60s; exit="
                    + (worker.process.isAlive() ? "running" : worker.process.exitValue())
                    + "\nstdout: " + worker.stdout + "\nstderr: " + String.join("\n", worker.stderr));
        }
        Matcher m = READY.matcher(ready);
        assertThat(m.find()).as("ready line %s", ready).isTrue();
        worker.port = Integer.parseInt(m.group(4));
        worker.transport = m.group(5);
        return worker;
    }

    /** Starts a worker without waiting: for tests of failing starts. */
    static WorkerProcess launch(Path stateDir, String... args) throws IOException {
        List<String> command = new ArrayList<>(javaCommand());
        command.add("-jar");
        command.add(System.getProperty("quicfleet.worker.jar",
                root().resolve("worker/target/quicfleet-worker.jar").toString()));
        List<String> given = List.of(args);
        for (String[] option : new String[][] {{"--address", "127.0.0.1"}, {"--port", "0"},
                {"--state-dir", stateDir.toString()}}) {
            if (!given.contains(option[0])) {
                command.addAll(List.of(option));
            }
        }
        command.addAll(given);
        return new WorkerProcess(new ProcessBuilder(command).start());
    }

    /** {@code java} plus the project's JVM flags (the same argument files the scripts use). */
    static List<String> javaCommand() {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        command.add("@" + root().resolve("scripts/jvm/base.options"));
        if (Runtime.version().feature() >= 23) {
            command.add("@" + root().resolve("scripts/jvm/jdk23.options"));
        }
        command.add("-Xmx512m");
        return command;
    }

    static Path root() {
        String root = System.getProperty("quicfleet.root");
        Path path = root != null ? Path.of(root) : Path.of("..").toAbsolutePath().normalize();
        if (!Files.isDirectory(path.resolve("scripts/jvm"))) {
            throw new IllegalStateException("cannot find the repository root (scripts/jvm) at " + path);
        }
        return path;
    }

    int port() {
        return port;
    }

    String transport() {
        return transport;
    }

    long pid() {
        return process.pid();
    }

    boolean isAlive() {
        return process.isAlive();
    }

    String stderr() {
        return String.join("\n", stderr);
    }

    String stdout() {
        return String.join("\n", stdout);
    }

    /**
     * Sends SIGTERM. Through the {@link ProcessHandle}: {@link Process#destroy()} also closes our ends of the
     * child's pipes, and everything it logs while draining would be lost.
     */
    void terminate() {
        process.toHandle().destroy();
    }

    /** Waits (bounded) for the process to exit and returns its exit code. */
    int awaitExit(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError("worker pid " + pid() + " still running after " + timeout + "\nstderr: "
                    + stderr());
        }
        // let the pumps drain what the process wrote last
        awaitLine(stderr, line -> false, Duration.ofMillis(200));
        return process.exitValue();
    }

    /** Waits (bounded) for a stderr line matching {@code test}. */
    String awaitStderr(Predicate<String> test, Duration timeout) throws InterruptedException {
        return awaitLine(stderr, test, timeout);
    }

    private String awaitLine(List<String> lines, Predicate<String> test, Duration timeout)
            throws InterruptedException {
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
        Thread.ofPlatform().daemon().name("worker-output").start(() -> {
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = reader.readLine()) != null) {
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

    /** Kills the process by its pid (SIGKILL) if it still runs, and waits (bounded) for it to go. */
    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroyForcibly();
            try {
                process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
