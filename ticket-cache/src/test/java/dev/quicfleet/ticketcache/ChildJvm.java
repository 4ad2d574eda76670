package dev.quicfleet.ticketcache;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Writer;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A second JVM running {@link SharedSecretsChild}, with this JVM's Chronicle flags (so it opens the map the same way
 * a worker would). Talks over stdin/stdout lines; its stderr goes to a file that failure messages quote.
 */
final class ChildJvm implements AutoCloseable {

    private static final List<String> INHERITED_FLAGS = List.of("--add-opens", "--add-exports",
            "--enable-native-access", "--sun-misc-unsafe-memory-access", "-Dchronicle.", "-Dnet.openhft.");

    private final Process process;
    private final Path stderr;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

    private ChildJvm(Process process, Path stderr) {
        this.process = process;
        this.stderr = stderr;
        Thread.ofPlatform().daemon().name("child-" + process.pid() + "-stdout").start(() -> {
            try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String line = out.readLine(); line != null; line = out.readLine()) {
                    lines.add(line);
                }
            } catch (IOException e) {
                // The child was killed: nothing more to read.
            }
        });
    }

    static ChildJvm start(Path logDir, String... args) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElseThrow());
        for (String flag : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (INHERITED_FLAGS.stream().anyMatch(flag::startsWith)) {
                command.add(flag);
            }
        }
        command.addAll(List.of("-Xmx256m", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
                SharedSecretsChild.class.getName()));
        command.addAll(List.of(args));
        Path stderr = Files.createTempFile(logDir, "child-", ".log");
        Process process = new ProcessBuilder(command).redirectError(stderr.toFile()).start();
        return new ChildJvm(process, stderr);
    }

    /** The first line starting with {@code prefix}, without it; fails (quoting the child's stderr) after timeout. */
    String awaitLine(String prefix, Duration timeout) throws InterruptedException, IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        for (long left = timeout.toNanos(); left > 0; left = deadline - System.nanoTime()) {
            String line = lines.poll(left, TimeUnit.NANOSECONDS);
            if (line != null && line.startsWith(prefix)) {
                return line.substring(prefix.length());
            }
        }
        throw new AssertionError("child " + process.pid() + " printed no '" + prefix + "' line in " + timeout
                + " (alive: " + process.isAlive() + "); its stderr:\n" + Files.readString(stderr));
    }

    void send(String line) throws IOException {
        Writer in = process.outputWriter(StandardCharsets.US_ASCII);
        in.write(line + "\n");
        in.flush();
    }

    long pid() {
        return process.pid();
    }

    /** SIGKILL, as the kernel's OOM killer or an operator's {@code kill -9} would; waits for the exit. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            throw new AssertionError("child " + process.pid() + " still alive 10 s after SIGKILL");
        }
    }

    @Override
    public void close() throws InterruptedException {
        kill();
    }
}
