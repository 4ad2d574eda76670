package dev.quicfleet.supervisor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The command line of a worker JVM: the same JDK as the supervisor, the project's JVM flag files, heap and extra
 * options, optionally pinned to one CPU, then the worker jar with its slot, the control socket and the options the
 * operator gave the supervisor for the workers.
 */
final class WorkerCommand {

    private final SupervisorConfig config;
    private final String java;
    private final int cpus;

    WorkerCommand(SupervisorConfig config) {
        this.config = config;
        this.java = ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin",
                "java").toString());
        this.cpus = Runtime.getRuntime().availableProcessors();
        try {
            // HotSpot writes no crash report into a directory that does not exist (it falls back to the working one).
            Files.createDirectories(stateDir(), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(
                    "rwx------")));
        } catch (IOException | UnsupportedOperationException e) {
            org.slf4j.LoggerFactory.getLogger(WorkerCommand.class).warn("cannot create the state directory {} ({}): "
                    + "worker crash reports would go to the working directory", stateDir(), e.toString());
        }
        org.slf4j.LoggerFactory.getLogger(WorkerCommand.class).info("worker JVMs start {}", aotCache()
                .map(cache -> "with the AOT cache " + cache)
                .orElse("without an AOT cache (JDK 25+ and ./scripts/supervisor make one)"));
    }

    /**
     * How long after start a reload's replacement sends no stateless resets: its predecessor drains on the same socket
     * (up to the drain timeout, then it is killed), and packets of its connections may reach the replacement.
     */
    static final Duration RESET_HOLDOFF_GRACE = Duration.ofSeconds(5);

    /**
     * The command for {@code slot}; {@code replacing}: a reload's new worker, while the old one (whose hand-over link
     * is on {@code predecessorHandover}, 0 if unknown) still drains.
     */
    List<String> command(int slot, int port, boolean replacing, int predecessorHandover) {
        List<String> command = new ArrayList<>();
        if (config.pinCpus()) {
            command.addAll(List.of("taskset", "-c", Integer.toString(slot % cpus)));
        }
        command.add(java);
        for (Path file : config.jvmArgFiles()) {
            command.add("@" + file);
        }
        if (config.workerHeap() != null) {
            command.add("-Xmx" + config.workerHeap());
        }
        // An OutOfMemoryError leaves a worker in an unknown state: exit (code 3) and let the supervisor respawn it.
        command.add("-XX:+ExitOnOutOfMemoryError");
        // A JVM crash report goes to the state directory, not to whatever directory the cluster was started in.
        command.add("-XX:ErrorFile=" + errorFile(stateDir()));
        aotCache().ifPresent(cache -> command.add("-XX:AOTCache=" + cache));
        command.addAll(config.workerJvmOpts());
        command.add("-jar");
        command.add(config.workerJar().toString());
        command.addAll(List.of("--slot", Integer.toString(slot),
                "--supervisor-socket", config.controlSocket().toString(),
                "--address", config.address().getHostAddress(),
                "--port", Integer.toString(port),
                "--drain-timeout", config.drainTimeout().toMillis() + "ms"));
        if (replacing) {
            command.addAll(List.of("--stateless-reset-holdoff",
                    config.drainTimeout().plus(RESET_HOLDOFF_GRACE).toMillis() + "ms"));
            if (predecessorHandover > 0) {
                command.addAll(List.of("--handover-peer", Integer.toString(predecessorHandover)));
            }
        }
        command.addAll(config.workerArgs());
        return command;
    }

    /**
     * The workers' state directory: {@code --state-dir} among the worker options, else the worker's default
     * ({@code $XDG_STATE_HOME/quicfleet} or {@code ~/.local/state/quicfleet}).
     */
    Path stateDir() {
        List<String> args = config.workerArgs();
        Path dir = null;
        for (int i = 0; i < args.size(); i++) {
            if (args.get(i).equals("--state-dir") && i + 1 < args.size()) {
                dir = Path.of(args.get(i + 1));
            } else if (args.get(i).startsWith("--state-dir=")) {
                dir = Path.of(args.get(i).substring("--state-dir=".length()));
            }
        }
        if (dir == null) {
            // The worker's own default (WorkerConfig.defaultStateDir; the supervisor does not depend on the worker).
            String xdg = System.getenv("XDG_STATE_HOME");
            dir = (xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".local",
                    "state")).resolve("quicfleet");
        }
        return dir.toAbsolutePath();
    }

    /** HotSpot's crash report name in {@code dir} ({@code %p}: the pid), for {@code -XX:ErrorFile}. */
    static String errorFile(Path dir) {
        return dir.resolve("hs_err_pid%p.log").toString();
    }

    /**
     * The worker's AOT cache ({@code quicfleet-worker.aot} beside its jar, made by {@code scripts/lib.sh}'s training
     * run on JDK 25+) when this JDK can use it and it is not older than the jar: classes come pre-loaded and linked,
     * which halves a worker's start, so a respawned slot serves sooner.
     */
    Optional<Path> aotCache() {
        String name = config.workerJar().getFileName().toString();
        if (Runtime.version().feature() < 25 || !name.endsWith(".jar")) {
            return Optional.empty();
        }
        Path cache = config.workerJar().resolveSibling(name.substring(0, name.length() - 4) + ".aot");
        try {
            boolean fresh = Files.getLastModifiedTime(cache)
                    .compareTo(Files.getLastModifiedTime(config.workerJar())) >= 0;
            return fresh ? Optional.of(cache) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    Process start(int slot, int port, boolean replacing, int predecessorHandover) throws IOException {
        return new ProcessBuilder(command(slot, port, replacing, predecessorHandover)).start();
    }
}
