package dev.quicfleet.supervisor;

import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * What the supervisor needs; validated on construction (messages name the flag, the value and what is expected).
 *
 * @param workers       worker processes, one per slot (default: the number of cores)
 * @param address       listening address, passed to the workers too
 * @param port          UDP and TCP port ({@code 0}: one free port for all slots)
 * @param drainTimeout  how long workers may drain on SIGTERM before the supervisor kills them
 * @param workerHeap    {@code -Xmx} of each worker, e.g. {@code 512m}
 * @param workerJvmOpts extra JVM options for each worker
 * @param pinCpus       pin worker {@code i} to CPU {@code i mod cores} (with {@code taskset})
 * @param workerJar     the worker jar to run
 * @param jvmArgFiles   the project's JVM flag files (scripts/jvm/*.options), passed as {@code @file}
 * @param workerArgs    worker options passed through unchanged (cert, key, transport, limits, config file, ...)
 * @param controlSocket the control socket path
 * @param backoffStart  first respawn delay; doubles per consecutive failure
 * @param backoffMax    respawn delay cap
 */
record SupervisorConfig(int workers, InetAddress address, int port, Duration drainTimeout, String workerHeap,
                        List<String> workerJvmOpts, boolean pinCpus, Path workerJar, List<Path> jvmArgFiles,
                        List<String> workerArgs, Path controlSocket, Duration backoffStart, Duration backoffMax) {

    /** This config with {@code more} worker options appended. */
    SupervisorConfig withWorkerArgs(String... more) {
        List<String> args = new java.util.ArrayList<>(workerArgs);
        args.addAll(List.of(more));
        return new SupervisorConfig(workers, address, port, drainTimeout, workerHeap, workerJvmOpts, pinCpus, workerJar,
                jvmArgFiles, args, controlSocket, backoffStart, backoffMax);
    }

    /** This config with {@code path} as the control socket. */
    SupervisorConfig withControlSocket(Path path) {
        return new SupervisorConfig(workers, address, port, drainTimeout, workerHeap, workerJvmOpts, pinCpus, workerJar,
                jvmArgFiles, workerArgs, path, backoffStart, backoffMax);
    }

    /** The most worker slots (the slot number must fit the connection-ID byte). */
    static final int MAX_WORKERS = 256;

    SupervisorConfig {
        if (workers < 1 || workers > MAX_WORKERS) {
            throw new IllegalArgumentException("workers: " + workers + " (expected: 1.." + MAX_WORKERS + ")");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port: " + port + " (expected: 1..65535, or 0 for a free port)");
        }
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(workerJar, "worker-jar");
        if (drainTimeout.isNegative() || drainTimeout.compareTo(Duration.ofHours(1)) > 0) {
            throw new IllegalArgumentException("drain-timeout: " + drainTimeout + " (expected: 0s..1h)");
        }
        if (workerHeap != null && !workerHeap.matches("\\d+[kKmMgG]?")) {
            throw new IllegalArgumentException("worker-heap: " + workerHeap + " (expected: a JVM heap size such as "
                    + "512m or 2g)");
        }
        workerJvmOpts = List.copyOf(workerJvmOpts);
        jvmArgFiles = List.copyOf(jvmArgFiles);
        workerArgs = List.copyOf(workerArgs);
    }
}
