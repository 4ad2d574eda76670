package dev.quicfleet.worker;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * The worker test harness ({@link WorkerProcess}, package-private in the worker's test-jar) for the client's tests:
 * a real worker JVM on 127.0.0.1 and a free port, killed by its pid on {@link #close()}.
 */
public final class ClientTestWorker implements AutoCloseable {

    private final Path dir;
    private final WorkerProcess process;

    private ClientTestWorker(Path dir, WorkerProcess process) {
        this.dir = dir;
        this.process = process;
    }

    /** Starts a worker with {@code args} and waits (bounded) until it is ready. */
    public static ClientTestWorker start(String... args) throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("quicfleet-client-it-");
        return new ClientTestWorker(dir, WorkerProcess.start(dir.resolve("state"), args));
    }

    /** The UDP (and TCP) port. */
    public int port() {
        return process.port();
    }

    /** The worker's self-signed development certificate (PEM). */
    public Path certificate() {
        return dir.resolve("state").resolve("dev-cert.pem");
    }

    /** The worker's pid. */
    public long pid() {
        return process.pid();
    }

    /** What the worker logged on stderr. */
    public String stderr() {
        return process.stderr();
    }

    @Override
    public void close() throws IOException {
        process.close();
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
