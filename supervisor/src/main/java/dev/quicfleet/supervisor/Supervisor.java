package dev.quicfleet.supervisor;

import dev.quicfleet.metrics.RestartReason;
import dev.quicfleet.metrics.SupervisorMetrics;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts one worker JVM per slot, hands each its slot's sockets, and keeps the slots filled: a worker that exits for
 * any reason is respawned into the same slot with capped exponential backoff, SIGTERM/SIGINT drains all workers,
 * SIGHUP replaces them one slot at a time.
 *
 * <p>nginx's master process is the model: signal handlers, child exits and control messages only put an
 * {@link Event} on a queue; one control loop ({@link #run()}) owns all state and acts on them in order.
 */
final class Supervisor {

    private static final Logger log = LoggerFactory.getLogger(Supervisor.class);
    /** A worker that stayed ready this long has earned a fresh backoff. */
    private static final Duration STABLE_AFTER = Duration.ofSeconds(10);
    /** Extra time after the drain timeout before stragglers are killed. */
    private static final Duration KILL_GRACE = Duration.ofSeconds(5);
    /** Consecutive failed starts of one slot before the first readiness that make the supervisor give up. */
    private static final int INITIAL_ATTEMPTS = 3;

    /** What the control loop acts on. */
    sealed interface Event {
        record Exited(int slot, Process process) implements Event {
        }

        record Control(ControlServer.Message message) implements Event {
        }

        record Signal(String name) implements Event {
        }

        record Respawn(int slot) implements Event {
        }

        record StopDeadline() implements Event {
        }
    }

    enum State { STARTING, READY, BACKOFF, STOPPED }

    /** One slot: its sockets, its current worker and, during a reload, the replacement. */
    private static final class Slot {
        final SlotSockets.Slot sockets;
        State state = State.STARTING;
        Process process;
        Instant started;
        Instant readySince;
        Process replacement;
        /** The ready worker's control connection and hand-over port (0 until it is ready). */
        io.netty.channel.Channel channel;
        int handoverPort;
        int restarts;
        int consecutiveFailures;
        String lastExit = "-";
        String lastError;

        Slot(SlotSockets.Slot sockets) {
            this.sockets = sockets;
        }
    }

    private final SupervisorConfig config;
    private final SlotSockets sockets;
    private final WorkerCommand command;
    private final PrintStream out;
    private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
    private final ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("quicfleet-timers").factory());
    private final List<Slot> slots = new ArrayList<>();
    private final SupervisorMetrics metrics;
    /** The control connection of each slot's serving worker: where its metrics are scraped (read by any thread). */
    private final java.util.Map<Integer, io.netty.channel.Channel> scrapeChannels =
            new java.util.concurrent.ConcurrentHashMap<>();
    /** The last {@code error:} line of each worker pid (reported by the supervisor, not passed through). */
    private final java.util.Map<Long, String> errorLines = new java.util.concurrent.ConcurrentHashMap<>();
    private String transport = "?";
    private boolean everReady;
    private boolean stopping;
    private boolean forced;
    private int reloadSlot = -1;
    private int exitCode;
    private final SystemdNotifier systemd;

    Supervisor(SupervisorConfig config, SlotSockets sockets, WorkerCommand command, PrintStream out,
               SupervisorMetrics metrics, SystemdNotifier systemd) {
        this.systemd = systemd;
        this.metrics = metrics;
        this.config = config;
        this.sockets = sockets;
        this.command = command;
        this.out = out;
        for (int i = 0; i < sockets.size(); i++) {
            slots.add(new Slot(sockets.slot(i)));
        }
    }

    /** Queues an event; safe from any thread (signal handlers, process watchers, the control socket). */
    void post(Event event) {
        events.add(event);
    }

    /** Starts every slot, then serves events until all workers are gone after a stop. Returns the exit code. */
    int run() throws InterruptedException {
        for (Slot slot : slots) {
            spawn(slot);
        }
        while (!(stopping && allGone())) {
            Event event = events.poll(1, TimeUnit.SECONDS);
            if (event != null) {
                handle(event);
            }
        }
        timers.shutdownNow();
        return exitCode;
    }

    private void handle(Event event) {
        switch (event) {
            case Event.Exited exited -> onExit(slots.get(exited.slot()), exited.process());
            case Event.Control control -> onControl(control.message());
            case Event.Signal signal -> onSignal(signal.name());
            case Event.Respawn respawn -> {
                Slot slot = slots.get(respawn.slot());
                if (!stopping && slot.state == State.BACKOFF) {
                    spawn(slot);
                }
            }
            case Event.StopDeadline ignored -> killAll("drain deadline passed");
        }
    }

    private Process spawn(Slot slot) {
        int index = slot.sockets.index();
        Process process;
        try {
            // a reload's replacement: the slot's worker is ready and keeps its socket while it drains; the two pass
            // each other what is not theirs over their hand-over link
            boolean replacing = slot.process != null && slot.state == State.READY;
            process = command.start(index, sockets.port(), replacing, replacing ? slot.handoverPort : 0);
        } catch (IOException e) {
            log.error("slot {}: cannot start a worker: {}", index, e.getMessage());
            slot.lastError = e.getMessage();
            scheduleRespawn(slot, "failed_start");
            return null;
        }
        // A worker's stdout carries only its "ready:" line, which the supervisor reports itself: drain it.
        pump(process.getInputStream(), null, null);
        pump(process.getErrorStream(), System.err, line -> errorLines.put(process.pid(), line));
        process.onExit().thenRun(() -> post(new Event.Exited(index, process)));
        if (slot.process == null || slot.state != State.READY) {
            slot.process = process;
            slot.state = State.STARTING;
            slot.started = Instant.now();
        } else {
            slot.replacement = process;
        }
        log.info("slot {}: started worker pid {}", index, process.pid());
        return process;
    }

    private void onControl(ControlServer.Message message) {
        switch (message) {
            case ControlServer.Message.Hello hello -> {
                Slot slot = hello.slot() >= 0 && hello.slot() < slots.size() ? slots.get(hello.slot()) : null;
                if (slot == null || !(isPid(slot.process, hello.peerPid()) || isPid(slot.replacement, hello.peerPid()))
                        || hello.claimedPid() != hello.peerPid()) {
                    log.warn("control socket: refused hello for slot {} from pid {} (not the worker started there)",
                            hello.slot(), hello.peerPid());
                    hello.channel().close();
                    return;
                }
                ControlServer.sendSockets(hello.channel(), slot.sockets.udpFd(), slot.sockets.tcpFd());
            }
            case ControlServer.Message.Ready ready -> {
                Slot slot = slotOf(ready.pid());
                if (slot == null) {
                    return;
                }
                transport = ready.transport();
                if (isPid(slot.replacement, ready.pid())) {
                    Process old = slot.process;
                    io.netty.channel.Channel oldChannel = slot.channel;
                    slot.process = slot.replacement;
                    slot.replacement = null;
                    slot.started = Instant.now();
                    log.info("slot {}: reloaded worker pid {} is ready; draining pid {}", slot.sockets.index(),
                            ready.pid(), old.pid());
                    // The old worker passes on what is not its own to the new one, and drains; SIGTERM if it cannot
                    // be told (then it drains without passing anything on).
                    if (oldChannel != null && oldChannel.isActive() && ready.handoverPort() > 0) {
                        ControlServer.handover(oldChannel, ready.handoverPort()).addListener(f -> {
                            if (!f.isSuccess()) {
                                old.toHandle().destroy();
                            }
                        });
                    } else {
                        old.toHandle().destroy();
                    }
                } else {
                    log.info("slot {}: worker pid {} ready", slot.sockets.index(), ready.pid());
                }
                slot.state = State.READY;
                slot.readySince = Instant.now();
                slot.channel = ready.channel();
                slot.handoverPort = ready.handoverPort();
                scrapeChannels.put(slot.sockets.index(), ready.channel());
                updateRunning();
                if (!everReady && slots.stream().allMatch(s -> s.state == State.READY)) {
                    everReady = true;
                    String line = "ready: " + slots.size() + " workers, udp+tcp " + sockets.port() + ", transport "
                            + transport;
                    log.info(line);
                    out.println(line);
                    out.flush();
                    systemd.ready(servingStatus());
                }
                if (reloadSlot >= 0 && slot.sockets.index() == reloadSlot) {
                    reloadNext();
                }
            }
            case ControlServer.Message.Failed failed -> {
                Slot slot = slotOf(failed.pid());
                if (slot != null) {
                    slot.lastError = failed.message();
                    log.error("slot {}: worker pid {} cannot serve: {}", slot.sockets.index(), failed.pid(),
                            failed.message());
                    if (!everReady && failed.exitCode() == 2) {
                        fatal(failed.message());
                    }
                }
            }
            case ControlServer.Message.Status status -> ControlServer.reply(status.channel(), statusLines());
        }
    }

    private void onExit(Slot slot, Process process) {
        int code = process.exitValue();
        String reason = reason(code);
        String error = errorLines.remove(process.pid());
        if (error == null && code == 2) {
            error = awaitErrorLine(process.pid());
        }
        if (error != null) {
            slot.lastError = error;
        }
        if (isPid(slot.replacement, process.pid())) {
            slot.replacement = null;
            if (code == 2 && reloadSlot == slot.sockets.index()) {
                // Bad input (the config file, an app's jar): every slot's replacement would refuse it the same way.
                // Stop the reload here; the old workers keep serving with the old config.
                log.error("reload refused, the workers keep serving with the previous configuration: {}",
                        error != null ? error.replaceFirst("^error: ", "") : "worker exited with code 2 (bad input)");
                reloadSlot = -1;
                if (everReady && !stopping) {
                    systemd.ready(servingStatus());
                }
                return;
            }
            log.warn("slot {}: replacement worker pid {} exited ({}) before it was ready; the old one keeps serving",
                    slot.sockets.index(), process.pid(), reason);
            if (reloadSlot == slot.sockets.index()) {
                reloadNext();
            }
            return;
        }
        if (slot.process != process) {
            log.info("slot {}: previous worker pid {} exited ({})", slot.sockets.index(), process.pid(), reason);
            if (slot.channel != null && slot.channel.isActive()) {
                ControlServer.handover(slot.channel, 0); // the slot's socket is the new worker's alone now
            }
            return;
        }
        slot.process = null;
        slot.channel = null;
        slot.handoverPort = 0;
        slot.lastExit = reason;
        scrapeChannels.remove(slot.sockets.index());
        updateRunning();
        if (stopping) {
            slot.state = State.STOPPED;
            log.info("slot {}: worker pid {} exited ({})", slot.sockets.index(), process.pid(), reason);
            return;
        }
        boolean wasStable = slot.state == State.READY && slot.readySince != null
                && Duration.between(slot.readySince, Instant.now()).compareTo(STABLE_AFTER) >= 0;
        if (wasStable) {
            slot.consecutiveFailures = 0;
        }
        if (!everReady && code == 2) {
            // Bad input (options, certificate): every slot would fail the same way, and retrying cannot help.
            fatal(slot.lastError != null ? slot.lastError : "worker exited with code 2 (bad input)");
            return;
        }
        if (!everReady && slot.state == State.STARTING && slot.consecutiveFailures + 1 >= INITIAL_ATTEMPTS) {
            log.error("slot {}: no worker could start ({} attempts): {}", slot.sockets.index(), INITIAL_ATTEMPTS,
                    slot.lastError != null ? slot.lastError : reason);
            exitCode = 1;
            beginStop(false);
            return;
        }
        log.warn("slot {}: worker pid {} exited ({}){}; respawning", slot.sockets.index(), process.pid(), reason,
                slot.lastError != null && error != null ? ": " + error : "");
        scheduleRespawn(slot, reason);
    }

    private void scheduleRespawn(Slot slot, String reason) {
        slot.restarts++;
        metrics.workerRestarted(slot.sockets.index(), restartReason(reason));
        slot.state = State.BACKOFF;
        long delay = Math.min(config.backoffMax().toMillis(),
                config.backoffStart().toMillis() << Math.min(20, slot.consecutiveFailures));
        slot.consecutiveFailures++;
        if (slot.consecutiveFailures >= 5) {
            log.error("slot {} keeps failing ({} times in a row, last: {}{}); next try in {} ms; the other slots "
                    + "keep serving", slot.sockets.index(), slot.consecutiveFailures, reason,
                    slot.lastError == null ? "" : ", " + slot.lastError, delay);
        }
        int index = slot.sockets.index();
        timers.schedule(() -> post(new Event.Respawn(index)), delay, TimeUnit.MILLISECONDS);
    }

    private void onSignal(String name) {
        switch (name) {
            case "HUP" -> {
                if (stopping || reloadSlot >= 0) {
                    log.info("SIGHUP ignored: {}", stopping ? "stopping" : "a reload is running");
                    return;
                }
                log.info("SIGHUP: reloading one slot at a time");
                if (everReady) {
                    systemd.reloading();
                }
                reloadSlot = -1;
                reloadNext();
            }
            case "USR1" -> {
                // logrotate's postrotate (as for nginx): every ready worker reopens its access log
                log.info("SIGUSR1: workers reopen their access logs");
                for (Slot slot : slots) {
                    if (slot.channel != null && slot.channel.isActive()) {
                        ControlServer.reopen(slot.channel);
                    }
                }
            }
            default -> {
                if (stopping) {
                    log.warn("second SIG{}: killing all workers now", name);
                    exitCode = 1;
                    killAll("second signal");
                } else {
                    log.info("SIG{}: draining all workers (deadline {})", name, config.drainTimeout());
                    beginStop(true);
                }
            }
        }
    }

    /** Replaces the next slot during a reload: a new worker takes the slot's sockets, the old one drains. */
    private void reloadNext() {
        for (int i = reloadSlot + 1; i < slots.size(); i++) {
            Slot slot = slots.get(i);
            if (slot.state == State.READY && slot.process != null) {
                reloadSlot = i;
                slot.restarts++;
                metrics.workerRestarted(i, RestartReason.RELOAD);
                if (spawn(slot) != null) {
                    return;
                }
            }
        }
        reloadSlot = -1;
        log.info("reload complete");
        if (everReady && !stopping) {
            systemd.ready(servingStatus());
        }
    }

    /**
     * The exit can be noticed before the output pump has read the worker's last line: wait for it briefly (only on
     * the way to a fatal error, never on the serving path).
     */
    private String awaitErrorLine(long pid) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(500);
        String line;
        while ((line = errorLines.remove(pid)) == null && System.nanoTime() < deadline) {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
        }
        return line;
    }

    /** Input the operator must fix: one {@code error:} line, stop every worker, exit 2. */
    private void fatal(String message) {
        if (stopping) {
            return;
        }
        System.err.println("error: " + message);
        System.err.flush();
        exitCode = 2;
        beginStop(false);
    }

    private void beginStop(boolean drain) {
        if (!stopping) {
            systemd.stopping();
        }
        stopping = true;
        for (Slot slot : slots) {
            for (Process p : new Process[] {slot.process, slot.replacement}) {
                if (p != null && p.isAlive()) {
                    // ProcessHandle.destroy() is SIGTERM; Process.destroy() would also close our pipes.
                    p.toHandle().destroy();
                }
            }
            if (slot.process == null && slot.replacement == null) {
                slot.state = State.STOPPED;
            }
        }
        Duration deadline = drain ? config.drainTimeout().plus(KILL_GRACE) : KILL_GRACE;
        timers.schedule(() -> post(new Event.StopDeadline()), deadline.toMillis(), TimeUnit.MILLISECONDS);
    }

    private String servingStatus() {
        return "serving: " + slots.size() + " workers, udp+tcp " + sockets.port() + ", transport " + transport;
    }

    private void killAll(String why) {
        for (Slot slot : slots) {
            for (Process p : new Process[] {slot.process, slot.replacement}) {
                if (p != null && p.isAlive()) {
                    log.warn("slot {}: killing worker pid {} ({})", slot.sockets.index(), p.pid(), why);
                    p.toHandle().destroyForcibly();
                }
            }
        }
        stopping = true;
        forced = true;
    }

    private boolean allGone() {
        return slots.stream().allMatch(s -> (s.process == null || !s.process.isAlive())
                && (s.replacement == null || !s.replacement.isAlive()));
    }

    List<String> statusLines() {
        List<String> lines = new ArrayList<>();
        Instant now = Instant.now();
        for (Slot slot : slots) {
            Process p = slot.process;
            lines.add(String.format("slot %d pid %s state %s uptime %s restarts %d last-exit %s",
                    slot.sockets.index(), p == null ? "-" : Long.toString(p.pid()), slot.state.name().toLowerCase(),
                    slot.started == null || p == null ? "-" : Duration.between(slot.started, now).toSeconds() + "s",
                    slot.restarts, slot.lastExit));
        }
        return lines;
    }

    private Slot slotOf(long pid) {
        for (Slot slot : slots) {
            if (isPid(slot.process, pid) || isPid(slot.replacement, pid)) {
                return slot;
            }
        }
        return null;
    }

    private static boolean isPid(Process process, long pid) {
        return process != null && process.pid() == pid;
    }

    /** The slots whose worker is ready and can be scraped now (any thread), in slot order. */
    List<Integer> servingSlots() {
        return scrapeChannels.keySet().stream().sorted().toList();
    }

    /** Asks slot {@code slot}'s worker for its metrics (any thread); fails when no worker serves there. */
    CompletableFuture<String> scrape(int slot) {
        io.netty.channel.Channel channel = scrapeChannels.get(slot);
        return channel == null ? CompletableFuture.failedFuture(new IOException("no worker serves slot " + slot))
                : ControlServer.requestScrape(channel);
    }

    private void updateRunning() {
        metrics.workersRunning((int) slots.stream().filter(s -> s.state == State.READY).count());
    }

    private static RestartReason restartReason(String reason) {
        if (reason.startsWith("killed") || reason.startsWith("terminated")) {
            return RestartReason.KILLED;
        }
        if (reason.startsWith("oom")) {
            return RestartReason.OOM;
        }
        if (reason.startsWith("failed_start")) {
            return RestartReason.FAILED_START;
        }
        return RestartReason.CRASH;
    }

    /** Names an exit: by code, or by the signal that ended the JVM (128 + n). */
    static String reason(int code) {
        return switch (code) {
            case 0 -> "exited normally";
            case 2 -> "failed_start (exit code 2)";
            case 3 -> "oom (exit code 3)";
            case 137 -> "killed (SIGKILL)";
            case 143 -> "terminated (SIGTERM)";
            case 134 -> "crash (SIGABRT)";
            case 139 -> "crash (SIGSEGV)";
            default -> "crash (exit code " + code + ")";
        };
    }

    boolean forced() {
        return forced;
    }

    /**
     * Copies a worker's output lines (already tagged with its slot) to the supervisor's stream. Its one-line
     * {@code error:} report (and the help hint after it) goes to {@code errors} instead: the supervisor reports it,
     * once, rather than once per worker.
     */
    private static void pump(InputStream in, PrintStream sink, java.util.function.Consumer<String> errors) {
        Thread.ofPlatform().daemon().name("worker-output").start(() -> {
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = reader.readLine()) != null) {
                    if (sink == null) {
                        continue;
                    }
                    if (errors != null && line.startsWith("error: ")) {
                        errors.accept(line.substring("error: ".length()));
                    } else if (errors == null || !line.startsWith("(run with --help")) {
                        sink.println(line);
                    }
                }
            } catch (IOException e) {
                // the worker is gone
            }
        });
    }
}
