package dev.quicfleet.ticketcache;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * What one 0-RTT replay-register check costs a worker: {@link SharedSecrets#firstUse} on the shared Chronicle map in
 * /dev/shm, for a client random never seen (an insert) and for one already recorded (a replay: a lookup). Run by
 * {@code scripts/bench-secrets}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class ReplayRegisterBenchmark {

    private Path directory;
    private SharedSecretsOwner owner;
    private SharedSecrets worker;
    private Instant expiresAt;
    private final byte[] seen = new byte[32];

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        directory = Files.createTempDirectory(Path.of("/dev/shm"), "quicfleet-jmh-");
        Files.delete(directory); // the owner creates it, 0700
        SharedSecretsConfig config = SharedSecretsConfig.builder(4433).directory(directory)
                .replayCapacity(5_000_000).build();
        owner = SharedSecretsOwner.create(config, Clock.systemUTC());
        worker = SharedSecrets.open(config, Clock.systemUTC());
        expiresAt = Instant.now().plus(Duration.ofHours(1));
        ThreadLocalRandom.current().nextBytes(seen);
        worker.firstUse(seen, expiresAt);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        worker.close();
        owner.close();
        try (Stream<Path> files = Files.walk(directory)) {
            for (Path file : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(file);
            }
        }
    }

    /** An accepted early-data handshake: its client random is recorded. */
    @Benchmark
    public ReplayCheck firstUse() {
        byte[] clientRandom = new byte[32];
        ThreadLocalRandom.current().nextBytes(clientRandom);
        return worker.firstUse(clientRandom, expiresAt);
    }

    /** A replayed first flight: the client random is found. */
    @Benchmark
    public ReplayCheck replay() {
        return worker.firstUse(seen, expiresAt);
    }
}
