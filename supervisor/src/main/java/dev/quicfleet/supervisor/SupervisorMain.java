package dev.quicfleet.supervisor;

import dev.quicfleet.metrics.ClusterScrape;
import dev.quicfleet.metrics.SupervisorMetrics;
import dev.quicfleet.ticketcache.ClusterSecret;
import dev.quicfleet.ticketcache.ClusterSecretException;
import dev.quicfleet.ticketcache.Rotation;
import dev.quicfleet.ticketcache.SharedSecretsConfig;
import dev.quicfleet.transport.ConfigValues;
import dev.quicfleet.transport.ControlProtocol;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Unmatched;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * {@code supervisor [--workers N] [options] [worker options]}: binds the port once per slot, starts one worker JVM
 * per slot and keeps them running. Options it does not know are passed to every worker unchanged (certificate,
 * transport, limits, {@code --config}, ...), so the worker's own validation and messages apply.
 *
 * <p>{@code supervisor status [--port P]} prints the slot table of a running supervisor.
 *
 * <p>Exit codes: 0 after a clean drain, 2 for input the operator must fix (bad flags, port in use, a certificate
 * every worker rejects), 1 otherwise.
 */
@Command(name = "supervisor", mixinStandardHelpOptions = true, sortOptions = false, usageHelpAutoWidth = true,
        description = {"Runs one quicfleet worker JVM per core on one UDP+TCP port, respawns them, drains them on "
                + "SIGTERM and reloads them one slot at a time on SIGHUP.",
                "Options not listed here are passed to every worker (see: worker --help), such as:",
                "  --upstream URL    reverse proxy to http://, h2c:// or https://HOST:PORT (repeat for a pool)",
                "  --trusted-proxies CIDR,..., --proxy-protocol-from CIDR,..., --upstream-health-path PATH",
                "  --static-dir DIR  serve a directory under --static-prefix (/static)",
                "  --cert PEM --key PEM, --early-data off|safe|all|425",
                "  --config FILE     options and sites (hosts, routes) from a YAML file; see docs/CONFIG.md"})
public final class SupervisorMain {

    static final int EXIT_CONFIG = 2;

    @Option(names = "--workers", paramLabel = "N", description = "Worker processes (default: the number of cores).")
    Integer workers;

    @Option(names = "--address", paramLabel = "IP", defaultValue = "0.0.0.0",
            description = "Address to listen on (default: ${DEFAULT-VALUE}).")
    String address;

    @Option(names = "--port", paramLabel = "PORT", defaultValue = "4433",
            description = "UDP and TCP port; 0 picks a free one (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--drain-timeout", paramLabel = "DURATION", defaultValue = "10s",
            description = "How long workers may drain on SIGTERM before they are killed (default: ${DEFAULT-VALUE}).")
    String drainTimeout;

    @Option(names = "--worker-heap", paramLabel = "SIZE", description = "Heap of each worker JVM, e.g. 512m.")
    String workerHeap;

    @Option(names = "--worker-jvm-opts", paramLabel = "OPTS", description = "Extra JVM options for each worker "
            + "(space separated).")
    String workerJvmOpts;

    @Option(names = "--pin-cpus", description = "Pin worker i to CPU i (taskset).")
    boolean pinCpus;

    @Option(names = "--worker-jar", paramLabel = "JAR", description = "The worker jar (set by scripts/supervisor).")
    Path workerJar;

    @Option(names = "--control-socket", paramLabel = "PATH",
            description = "Control socket (default: $XDG_RUNTIME_DIR/quicfleet/control-PORT.sock or "
                    + "/tmp/quicfleet-USER/control-PORT.sock).")
    Path controlSocket;

    @Option(names = "--metrics-address", paramLabel = "IP:PORT", defaultValue = "127.0.0.1:9464",
            description = "Where the cluster's Prometheus endpoint /metrics and the status page / listen, or off "
                    + "(default: ${DEFAULT-VALUE}).")
    String metricsAddress;

    @Option(names = "--no-shared-tickets", description = "Each worker keeps its own TLS session-ticket keys (a "
            + "client resumes only on the worker that issued its ticket): for comparison and tests.")
    boolean noSharedTickets;

    @Option(names = "--cluster-secret", paramLabel = "FILE",
            description = "At least 32 random bytes shared by every host of the cluster (mode 0600): ticket keys are "
                    + "derived from it per rotation epoch, so tickets resume on every host.")
    Path clusterSecret;

    @Option(names = "--ticket-key-rotation", paramLabel = "DURATION", defaultValue = "1h",
            description = "How often the ticket key that encrypts new tickets changes (default: ${DEFAULT-VALUE}).")
    String ticketKeyRotation;

    @Option(names = "--ticket-lifetime", paramLabel = "DURATION", defaultValue = "12h",
            description = "How long an issued ticket is accepted (default: ${DEFAULT-VALUE}).")
    String ticketLifetime;

    @Option(names = "--shm-path", paramLabel = "DIR",
            description = "The private directory (tmpfs) of the shared map with the cluster's keys and 0-RTT replay "
                    + "register (default: /dev/shm/quicfleet-PORT, one per port).")
    Path shmPath;

    @Option(names = "--shm-entries", paramLabel = "N", defaultValue = "1000000",
            description = "0-RTT replay records the shared map is sized for: peak early-data handshakes per second "
                    + "times ticket lifetime plus one rotation (default: ${DEFAULT-VALUE}, 65 MB of tmpfs).")
    long shmEntries;

    @Option(names = "--steering", paramLabel = "cbpf|off", defaultValue = "cbpf",
            description = "cbpf: the kernel hands each short-header QUIC packet to the worker whose slot its "
                    + "connection id names, so a client whose address changes (NAT rebinding, migration) stays on its "
                    + "worker; off: the kernel's 4-tuple hash only (default: ${DEFAULT-VALUE}).")
    String steering;

    @Option(names = "--server-id", paramLabel = "ID", defaultValue = "",
            description = "This host's server id in connection ids, for CID-aware load balancers: 0x + 2..8 hex "
                    + "digits or a decimal number (default: none). Passed on to the workers.")
    String serverId;

    @Option(names = "--check-config", paramLabel = "FILE",
            description = "Check the YAML config FILE (options and sites, the apps' classes) with the other options "
                    + "as a start would, without binding or starting: prints ok or one error: line; exit 0 or 2.")
    Path checkConfigFile;

    @Unmatched
    List<String> workerArgs = new ArrayList<>();

    /** Runs the supervisor (or {@code status}); exits the JVM with its code. */
    public static void main(String[] args) {
        // Read when the first logger is created; the workers get the same --log-format (it is passed through).
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--log-format") && i + 1 < args.length) {
                System.setProperty("quicfleet.log.format", args[i + 1]);
            } else if (args[i].startsWith("--log-format=")) {
                System.setProperty("quicfleet.log.format", args[i].substring("--log-format=".length()));
            }
        }
        String format = System.getProperty("quicfleet.log.format", "text");
        if (!format.equals("text") && !format.equals("json")) {
            System.err.println("error: log-format: " + format + " (expected: text or json)");
            System.exit(EXIT_CONFIG);
        }
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    static int run(String[] args, PrintWriter out, PrintWriter err) {
        if (args.length > 0 && args[0].equals("status")) {
            return status(args, out, err);
        }
        boolean check = args.length > 0 && args[0].equals("check-config");
        if (check) {
            args = Arrays.copyOfRange(args, 1, args.length);
        }
        SupervisorMain options = new SupervisorMain();
        CommandLine cli = new CommandLine(options).setOut(out).setErr(err).setUnmatchedOptionsArePositionalParams(false);
        SupervisorConfig config;
        try {
            CommandLine.ParseResult parsed = cli.parseArgs(args);
            if (CommandLine.printHelpIfRequested(parsed)) {
                return 0;
            }
            if (options.checkConfigFile != null) {
                check = true;
                options.workerArgs.addAll(List.of("--config", options.checkConfigFile.toString()));
            }
            options.applyConfigFile(parsed);
            config = options.toConfig();
        } catch (CommandLine.ParameterException | IllegalArgumentException e) {
            err.println("error: " + e.getMessage());
            err.println("(run with --help for the list of options)");
            return EXIT_CONFIG;
        }
        InetSocketAddress metricsEndpoint;
        try {
            metricsEndpoint = options.metricsEndpoint();
        } catch (IllegalArgumentException e) {
            err.println("error: " + e.getMessage());
            return EXIT_CONFIG;
        }
        Rotation rotation;
        try {
            rotation = options.noSharedTickets ? null : new Rotation(duration("ticket-key-rotation",
                    options.ticketKeyRotation), duration("ticket-lifetime", options.ticketLifetime));
        } catch (IllegalArgumentException e) {
            err.println("error: " + e.getMessage());
            return EXIT_CONFIG;
        }
        ClusterSecret secret = null;
        if (options.clusterSecret != null) {
            if (rotation == null) {
                err.println("error: cluster-secret: " + options.clusterSecret + " with --no-shared-tickets (expected: "
                        + "one or the other)");
                return EXIT_CONFIG;
            }
            try {
                secret = ClusterSecret.read(options.clusterSecret);
            } catch (ClusterSecretException e) {
                err.println("error: " + e.getMessage());
                return EXIT_CONFIG;
            }
        }
        long shmEntries = options.shmEntries;
        Path shmPath = options.shmPath;
        java.util.function.IntFunction<SharedSecretsConfig> shm = port -> SharedSecretsConfig.builder(port)
                .directory(shmPath != null ? shmPath.toAbsolutePath() : SharedSecretsConfig.defaultDirectory(port))
                .replayCapacity(shmEntries).build();
        try {
            shm.apply(1); // validates --shm-entries now, before anything is bound
        } catch (IllegalArgumentException e) {
            err.println("error: " + e.getMessage());
            return EXIT_CONFIG;
        }
        if (!options.steering.equals("cbpf") && !options.steering.equals("off")) {
            err.println("error: steering: " + options.steering + " (expected: cbpf or off)");
            return EXIT_CONFIG;
        }
        dev.quicfleet.transport.ConnectionIds ids;
        try {
            ids = dev.quicfleet.transport.ConnectionIds.of(
                    dev.quicfleet.transport.ConnectionIds.parseServerId(options.serverId));
        } catch (IllegalArgumentException e) {
            err.println("error: server-id: " + options.serverId + " (" + e.getMessage() + ")");
            return EXIT_CONFIG;
        }
        if (!options.serverId.isEmpty()) {
            config = config.withWorkerArgs("--server-id", options.serverId);
        }
        if (check) {
            return checkConfig(config, metricsEndpoint, options.clusterSecret, options.checkConfigFile != null, out,
                    err);
        }
        return supervise(config, metricsEndpoint, rotation, secret, shm, options.steering.equals("cbpf") ? ids : null,
                err);
    }

    /**
     * @param steering the connection-id layout whose slot byte the kernel steers by, or {@code null} for no steering
     */
    private static int supervise(SupervisorConfig given, InetSocketAddress metricsEndpoint, Rotation rotation,
                                 ClusterSecret clusterSecret,
                                 java.util.function.IntFunction<SharedSecretsConfig> shm,
                                 dev.quicfleet.transport.ConnectionIds steering, PrintWriter err) {
        SupervisorConfig config = given;
        org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(SupervisorMain.class);
        SlotSockets sockets;
        PortLock portLock = null;
        try {
            // One cluster per port: SO_REUSEPORT would let a second one share it silently (see PortLock).
            if (config.port() != 0) {
                portLock = PortLock.acquire(config.address(), config.port(), true);
            }
            sockets = SlotSockets.bind(config.address(), config.port(), config.workers(), 4096, 4 << 20);
            if (portLock == null) {
                try {
                    portLock = PortLock.acquire(config.address(), sockets.port(), false);
                } catch (SlotSockets.BindFailure e) {
                    sockets.close();
                    throw e;
                }
            }
        } catch (SlotSockets.BindFailure e) {
            if (portLock != null) {
                portLock.close();
            }
            err.println("error: " + e.getMessage());
            return EXIT_CONFIG;
        }
        if (steering != null) {
            // One program per reuseport group: attached to slot 0's socket, it steers the whole group.
            try {
                dev.quicfleet.transport.ReusePortSteering.attach(sockets.slot(0).udp(), steering.slotOffset());
                log.info("steering: cbpf (short-header packets go to the worker slot named in their connection id)");
            } catch (dev.quicfleet.transport.SteeringException e) {
                log.warn("steering off: {} Clients whose address changes may reach a worker that does not know "
                        + "their connection.", e.getMessage());
            }
        } else {
            log.info("steering: off (--steering off): packets are spread by the kernel's 4-tuple hash only");
        }
        if (config.controlSocket() == null) {
            // Named after the port actually bound (it differs from --port 0), so clusters never share one.
            config = config.withControlSocket(ControlProtocol.defaultSocket(sockets.port()));
        }
        Supervisor[] supervisor = new Supervisor[1];
        ControlServer control;
        try {
            control = ControlServer.listen(config.controlSocket(),
                    message -> supervisor[0].post(new Supervisor.Event.Control(message)));
        } catch (IOException e) {
            sockets.close();
            portLock.close();
            err.println("error: " + e.getMessage());
            return EXIT_CONFIG;
        }
        SupervisorMetrics metrics = new SupervisorMetrics(version(), config.workers());
        SystemdNotifier systemd = SystemdNotifier.fromEnvironment();
        MetricsEndpoint endpoint = null;
        TicketKeyPublisher tickets = null;
        if (rotation != null) {
            try {
                tickets = TicketKeyPublisher.start(shm.apply(sockets.port()), rotation, clusterSecret, metrics);
            } catch (IOException | RuntimeException e) {
                control.close();
                sockets.close();
                portLock.close();
                systemd.close();
                err.println("error: shared ticket keys: " + e.getMessage());
                return EXIT_CONFIG;
            }
            config = config.withWorkerArgs("--shm-dir", tickets.directory().toString());
        }
        try {
            supervisor[0] = new Supervisor(config, sockets, new WorkerCommand(config), System.out, metrics,
                    systemd);
            if (metricsEndpoint != null) {
                ClusterScrape scrape = new ClusterScrape(metrics, supervisor[0]::scrape, Duration.ofSeconds(2));
                try {
                    endpoint = MetricsEndpoint.start(metricsEndpoint, scrape, config.workers(),
                            supervisor[0]::servingSlots, control.path(), version());
                } catch (IOException e) {
                    err.println("error: " + e.getMessage());
                    return EXIT_CONFIG;
                }
                log.info("metrics: http://{}:{}/metrics, status page: http://{}:{}/",
                        endpoint.address().getAddress().getHostAddress(), endpoint.address().getPort(),
                        endpoint.address().getAddress().getHostAddress(), endpoint.address().getPort());
            }
            for (String name : List.of("TERM", "INT", "HUP", "USR1")) {
                SignalHandler before = Signal.handle(new Signal(name),
                        signal -> supervisor[0].post(new Supervisor.Event.Signal(name)));
                if (before == SignalHandler.SIG_IGN && name.equals("HUP")) {
                    // HotSpot does not take a shutdown signal (HUP, INT, TERM) that was ignored when the process
                    // started: the handler is accepted and never called. nohup ignores HUP. (A shell's background
                    // job ignores INT: not worth a warning, TERM stops the supervisor.)
                    log.warn("SIGHUP was ignored when this process started (nohup does that) and the JVM cannot "
                            + "take it back: SIGHUP will not reload. Start the supervisor without ignoring it "
                            + "(systemd, a terminal, setsid; not nohup)");
                }
            }
            log.info("supervisor pid {}: {} workers on udp+tcp {}:{}, control socket {}",
                    ProcessHandle.current().pid(), config.workers(), config.address().getHostAddress(),
                    sockets.port(), control.path());
            return supervisor[0].run();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        } finally {
            if (endpoint != null) {
                endpoint.close();
            }
            if (tickets != null) {
                tickets.close(given.port() == 0);
            }
            control.close();
            sockets.close();
            portLock.close();
            metrics.close();
            systemd.close();
        }
    }

    /**
     * {@code check-config [options]}: everything {@code serve} would check before it binds, without binding or starting
     * a worker: the supervisor's options (above), whether this process may bind a privileged port, and the workers'
     * options, certificate and key (a worker JVM parses them: {@code dev.quicfleet.worker.ConfigCheck}). 0 when a
     * start would get past them, 2 with the first problem otherwise. Whether the port is free is found out only by
     * binding it. {@code terse} ({@code --check-config FILE}, as {@code nginx -t}): only {@code ok} or the error line.
     */
    private static int checkConfig(SupervisorConfig config, InetSocketAddress metricsEndpoint, Path clusterSecret,
                                   boolean terse, PrintWriter out, PrintWriter err) {
        int unprivileged = unprivilegedPortStart();
        if (config.port() != 0 && config.port() < unprivileged && !canBindPrivilegedPorts()) {
            err.println("error: port: " + config.port() + " is below " + unprivileged + " and this process (user "
                    + System.getProperty("user.name") + ") lacks CAP_NET_BIND_SERVICE (expected: a port >= "
                    + unprivileged + ", or run it as the packaged service, whose unit grants the capability)");
            return EXIT_CONFIG;
        }
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin",
                "java").toString()));
        config.jvmArgFiles().forEach(file -> command.add("@" + file));
        command.addAll(List.of("-cp", config.workerJar().toString(), "dev.quicfleet.worker.ConfigCheck"));
        command.addAll(config.workerArgs());
        command.addAll(List.of("--address", config.address().getHostAddress(), "--port",
                Integer.toString(config.port())));
        out.flush();
        int code;
        try {
            ProcessBuilder check = new ProcessBuilder(command).inheritIO();
            if (terse) {
                // only the verdict: the error line, not the details and log lines of the check
                check.redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.PIPE);
            }
            Process worker = check.start();
            Thread errors = !terse ? null : Thread.ofVirtual().start(() -> {
                try (BufferedReader lines = worker.errorReader(StandardCharsets.UTF_8)) {
                    lines.lines().filter(line -> line.startsWith("error: ")).forEach(err::println);
                } catch (IOException | UncheckedIOException e) {
                    // the check is gone; its exit code says enough
                }
            });
            if (!worker.waitFor(60, TimeUnit.SECONDS)) {
                worker.destroyForcibly();
                err.println("error: the worker's config check did not finish within 60 s");
                return 1;
            }
            if (errors != null) {
                errors.join(Duration.ofSeconds(5));
            }
            code = worker.exitValue();
        } catch (IOException e) {
            err.println("error: cannot run the worker's config check (" + command.getFirst() + "): " + e.getMessage());
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        }
        if (code != 0) {
            return code;
        }
        if (terse) {
            out.println("ok");
            return 0;
        }
        String host = config.address().getHostAddress();
        out.println("config OK: " + config.workers() + " workers on udp+tcp " + (host.contains(":") ? "[" + host + "]"
                : host) + ":" + config.port() + ", metrics " + (metricsEndpoint == null ? "off"
                : metricsEndpoint.getAddress().getHostAddress() + ":" + metricsEndpoint.getPort())
                + (clusterSecret != null ? ", cluster secret " + clusterSecret : ""));
        return 0;
    }

    /** {@code net.ipv4.ip_unprivileged_port_start} (1024 unless changed; it applies to IPv6 too). */
    private static int unprivilegedPortStart() {
        try {
            // readAllLines, not readString: /proc reports size 0 and readString then returned "1" of "1024" here.
            return Integer.parseInt(Files.readAllLines(Path.of("/proc/sys/net/ipv4/ip_unprivileged_port_start"))
                    .getFirst().strip());
        } catch (IOException | RuntimeException e) {
            return 1024;
        }
    }

    /** Whether this process holds CAP_NET_BIND_SERVICE (bit 10 of CapEff in /proc/self/status). */
    private static boolean canBindPrivilegedPorts() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("CapEff:")) {
                    return (Long.parseUnsignedLong(line.substring("CapEff:".length()).strip(), 16) & (1L << 10)) != 0;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // unknown: let serve find out
        }
        return true;
    }

    private static String version() {
        String version = SupervisorMain.class.getPackage().getImplementationVersion();
        return version == null ? "dev" : version;
    }

    /**
     * The workers read {@code --config FILE} themselves; the supervisor reads the keys it acts on from the same file
     * ({@code address}, {@code port}, {@code drain-timeout}), unless the same option was given as a flag, so the file
     * means the same to both.
     */
    void applyConfigFile(CommandLine.ParseResult parsed) {
        String file = null;
        for (int i = 0; i < workerArgs.size(); i++) {
            String arg = workerArgs.get(i);
            if (arg.equals("--config") && i + 1 < workerArgs.size()) {
                file = workerArgs.get(i + 1);
            } else if (arg.startsWith("--config=")) {
                file = arg.substring("--config=".length());
            }
        }
        if (file == null) {
            return;
        }
        com.fasterxml.jackson.databind.JsonNode root;
        try {
            root = new com.fasterxml.jackson.databind.ObjectMapper(
                    new com.fasterxml.jackson.dataformat.yaml.YAMLFactory()).readTree(Path.of(file).toFile());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            return; // malformed YAML: the workers' check reports it, in one line with where it is
        } catch (IOException e) {
            throw new IllegalArgumentException("config: cannot read " + file + ": " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            return; // the workers report a malformed file, with the same message
        }
        if (root.hasNonNull("address") && !parsed.hasMatchedOption("--address")) {
            address = root.get("address").asText();
        }
        if (root.hasNonNull("port") && !parsed.hasMatchedOption("--port")) {
            String value = root.get("port").asText();
            try {
                port = Integer.parseInt(value);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("port: " + value + " in " + file + " (expected: 1..65535)");
            }
        }
        if (root.hasNonNull("drain-timeout") && !parsed.hasMatchedOption("--drain-timeout")) {
            drainTimeout = root.get("drain-timeout").asText();
        }
    }

    /** {@code --metrics-address} as an address, or {@code null} for {@code off}. */
    InetSocketAddress metricsEndpoint() {
        if (metricsAddress.equalsIgnoreCase("off")) {
            return null;
        }
        int colon = metricsAddress.lastIndexOf(':');
        try {
            String host = metricsAddress.substring(0, colon).replace("[", "").replace("]", "");
            int p = Integer.parseInt(metricsAddress.substring(colon + 1));
            if (colon <= 0 || p < 0 || p > 65535) {
                throw new IllegalArgumentException();
            }
            return new InetSocketAddress(InetAddress.getByName(host), p);
        } catch (RuntimeException | UnknownHostException e) {
            throw new IllegalArgumentException("metrics-address: " + metricsAddress
                    + " (expected: IP:PORT such as 127.0.0.1:9464, or off)");
        }
    }

    SupervisorConfig toConfig() {
        InetAddress bind;
        try {
            bind = InetAddress.getByName(address);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("address: " + address + " (expected: an IP address of this machine)");
        }
        Path jar = workerJar != null ? workerJar : Path.of(System.getProperty("quicfleet.worker.jar",
                "worker/target/quicfleet-worker.jar"));
        if (!Files.isRegularFile(jar)) {
            throw new IllegalArgumentException("worker-jar: " + jar + " does not exist (expected: the worker jar; "
                    + "build with ./mvnw -DskipTests install or run ./scripts/supervisor)");
        }
        List<Path> argFiles = new ArrayList<>();
        String files = System.getProperty("quicfleet.jvm.argfiles", "");
        for (String file : files.split(":")) {
            if (!file.isBlank()) {
                argFiles.add(Path.of(file));
            }
        }
        List<String> jvmOpts = workerJvmOpts == null || workerJvmOpts.isBlank() ? List.of()
                : List.of(workerJvmOpts.trim().split("\\s+"));
        return new SupervisorConfig(workers != null ? workers : Runtime.getRuntime().availableProcessors(), bind,
                port, duration("drain-timeout", drainTimeout), workerHeap, jvmOpts, pinCpus, jar, argFiles,
                workerArgs, controlSocket,
                Duration.ofMillis(100), Duration.ofSeconds(10));
    }

    static Duration duration(String key, String text) {
        return ConfigValues.duration(key, text);
    }

    /** {@code status [--port P | --control-socket PATH]}: the running supervisor's slot table. */
    private static int status(String[] args, PrintWriter out, PrintWriter err) {
        Path socket = null;
        int port = 4433;
        for (int i = 1; i < args.length; i++) {
            if (args[i].equals("--port") && i + 1 < args.length) {
                port = Integer.parseInt(args[++i]);
            } else if (args[i].equals("--control-socket") && i + 1 < args.length) {
                socket = Path.of(args[++i]);
            } else {
                err.println("error: status: unknown argument " + args[i] + " (expected: --port P or "
                        + "--control-socket PATH)");
                return EXIT_CONFIG;
            }
        }
        Path path = socket != null ? socket : ControlProtocol.defaultSocket(port);
        try {
            StatusClient.status(path).forEach(out::println);
            return 0;
        } catch (IOException e) {
            err.println("error: no supervisor answers on " + path + " (" + e.getMessage() + "); is it running "
                    + "with --port " + port + "?");
            return 1;
        }
    }
}
