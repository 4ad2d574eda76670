package dev.quicfleet.ticketcache;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * Where the shared secrets live and how long their users may wait for them.
 *
 * @param directory      {@code --shm-path}: the private directory on tmpfs holding the map's generations; default
 *                       {@code /dev/shm/quicfleet-<port>} ({@link #defaultDirectory(int)}), so clusters on different
 *                       ports never share a map
 * @param replayCapacity {@code --shm-entries}: replay-register entries the map is sized for: the peak number of
 *                       early-data handshakes whose records are alive at once (handshakes per second times how long
 *                       a record is kept). Default 1,000,000, which takes 65 MB of tmpfs from the start; past the
 *                       capacity the map grows by overflow tiers and answers {@link ReplayCheck#FULL} at about 3.5
 *                       times it (measured: 3.5 M entries, 200 MB). Size it for the peak: overflow tiers are
 *                       allocated under Chronicle's one map-wide lock, which is the only lock taken with
 *                       Chronicle's own (2 s) wait
 * @param lockWait       the longest a worker waits for a segment lock on the request path before it fails closed
 *                       (no 0-RTT); default 2ms
 * @param wedgedAfter    a segment lock held this long is taken as left behind by a killed process, and the owner
 *                       moves everyone to a new generation; default 2s (far above any real holding time, which is
 *                       microseconds, and above a typical GC pause of the holder)
 */
public record SharedSecretsConfig(Path directory, long replayCapacity, Duration lockWait, Duration wedgedAfter) {

    /** Validates every field. */
    public SharedSecretsConfig {
        Objects.requireNonNull(directory, "shm-path");
        if (replayCapacity < 1 || replayCapacity > 1L << 32) {
            throw new IllegalArgumentException("shm-entries: " + replayCapacity + " (expected: 1.." + (1L << 32)
                    + ")");
        }
        checkDuration("lock-wait", lockWait, Duration.ofNanos(1), Duration.ofSeconds(1));
        checkDuration("wedged-after", wedgedAfter, Duration.ofMillis(1), Duration.ofMinutes(1));
    }

    /** The defaults for a cluster serving {@code port}. */
    public static SharedSecretsConfig forPort(int port) {
        return builder(port).build();
    }

    /** A builder with the defaults for {@code port}. */
    public static Builder builder(int port) {
        return new Builder(defaultDirectory(port));
    }

    /** {@code /dev/shm/quicfleet-<port>}: tmpfs, one directory per port. */
    public static Path defaultDirectory(int port) {
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port: " + port + " (expected: 1..65535)");
        }
        return Path.of("/dev/shm", "quicfleet-" + port);
    }

    private static void checkDuration(String key, Duration value, Duration min, Duration max) {
        if (value == null || value.compareTo(min) < 0 || value.compareTo(max) > 0) {
            throw new IllegalArgumentException(key + ": " + value + " (expected: " + min + ".." + max + ")");
        }
    }

    /** Builds a {@link SharedSecretsConfig}; every setter is optional. */
    public static final class Builder {
        private Path directory;
        private long replayCapacity = 1_000_000;
        private Duration lockWait = Duration.ofMillis(2);
        private Duration wedgedAfter = Duration.ofSeconds(2);

        private Builder(Path directory) {
            this.directory = directory;
        }

        /** See {@link SharedSecretsConfig#directory()}. */
        public Builder directory(Path directory) {
            this.directory = directory;
            return this;
        }

        /** See {@link SharedSecretsConfig#replayCapacity()}. */
        public Builder replayCapacity(long replayCapacity) {
            this.replayCapacity = replayCapacity;
            return this;
        }

        /** See {@link SharedSecretsConfig#lockWait()}. */
        public Builder lockWait(Duration lockWait) {
            this.lockWait = lockWait;
            return this;
        }

        /** See {@link SharedSecretsConfig#wedgedAfter()}. */
        public Builder wedgedAfter(Duration wedgedAfter) {
            this.wedgedAfter = wedgedAfter;
            return this;
        }

        /** The validated config; a worker's lock wait must be shorter than the owner's wedge threshold. */
        public SharedSecretsConfig build() {
            SharedSecretsConfig config = new SharedSecretsConfig(directory, replayCapacity, lockWait, wedgedAfter);
            if (lockWait.compareTo(wedgedAfter) >= 0) {
                throw new IllegalArgumentException("lock-wait: " + lockWait + " (expected: less than wedged-after "
                        + wedgedAfter + ")");
            }
            return config;
        }
    }
}
