package dev.quicfleet.worker;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * One worker process shared by the tests of a class: {@code @RegisterExtension static RunningWorker worker = ...}.
 * Started before the first test in a fresh directory, killed by its pid after the last.
 */
final class RunningWorker implements BeforeAllCallback, AfterAllCallback {

    private final Function<Path, String[]> setup;
    private Path dir;
    private WorkerProcess process;

    /** A worker started with {@code args}. */
    RunningWorker(String... args) {
        this(dir -> args);
    }

    /** A worker whose arguments {@code setup} prepares in the test directory (files to serve, say). */
    RunningWorker(Function<Path, String[]> setup) {
        this.setup = setup;
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        dir = Files.createTempDirectory("quicfleet-it-");
        process = WorkerProcess.start(stateDir(), setup.apply(dir));
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        if (process != null) {
            process.close();
        }
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /** The worker's UDP and TCP port. */
    int port() {
        return process.port();
    }

    WorkerProcess process() {
        return process;
    }

    /** The worker's state directory (its development certificate is {@code dev-cert.pem} there). */
    Path stateDir() {
        return dir.resolve("state");
    }

    /** A fresh scratch directory for one test's downloads. */
    Path scratch(String name) throws java.io.IOException {
        return Files.createDirectories(dir.resolve("scratch").resolve(name));
    }

    /** A file in the worker's test directory. */
    Path file(String name) {
        return dir.resolve(name);
    }
}
