package dev.quicfleet.client;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.quicfleet.transport.ConfigValues;
import dev.quicfleet.transport.Transport;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code h3load}: an h2load-like HTTP/3 load generator. While it runs it prints a progress line on stderr once a
 * second; at the end a report (or {@code --json}) on stdout: requests/s, handshakes/s, latency percentiles, resumed
 * and 0-RTT shares, errors by kind, status codes, and its own CPU use, so a saturated generator is visible. Exit code
 * 0 when every request got a response (any status), 1 when some failed, 2 for usage errors.
 *
 * <p>{@code --hold} opens connections and keeps them open and idle (memory per connection on the server);
 * {@code --batch} runs many command lines read from stdin in one JVM, so that all but the first run find the JIT warm.
 */
@Command(name = "h3load", mixinStandardHelpOptions = true, sortOptions = false, usageHelpAutoWidth = true,
        description = "Sends many HTTP/3 requests over concurrent connections and streams and reports how it went.")
public final class H3LoadMain implements Callable<Integer> {

    /**
     * The default of {@code --ack-every}. A 1 GiB download from a one-worker quicfleet on loopback (client and
     * server each on its own CPU) measured best around here; see docs/CLIENT.md.
     */
    static final int DEFAULT_ACK_EVERY = 10;

    @Parameters(paramLabel = "URL", arity = "0..1", description = "https://HOST[:PORT]/PATH, requested with GET")
    private String url;

    @Option(names = {"-c", "--connections"}, paramLabel = "N", defaultValue = "1",
            description = "Concurrent connections (default ${DEFAULT-VALUE}).")
    private int connections;

    @Option(names = {"-m", "--max-concurrent-streams"}, paramLabel = "N", defaultValue = "1",
            description = "Concurrent requests per connection (default ${DEFAULT-VALUE}).")
    private int streams;

    @ArgGroup(exclusive = true, multiplicity = "0..1")
    private Amount amount;

    static final class Amount {
        @Option(names = {"-n", "--requests"}, paramLabel = "N", description = "Total requests.")
        Long requests;

        @Option(names = {"-D", "--duration"}, paramLabel = "DURATION", description = "Run for this long (10s, 1m).")
        String duration;

        @Option(names = "--hold", paramLabel = "DURATION", description = "Open -c connections (at most "
                + LoadRun.HOLD_OPENING_WINDOW + " handshakes at a time), send one request on each, then keep them all "
                + "open and idle for DURATION (see --keep-alive). Prints 'holding: N connections open ...' on stderr "
                + "once every request is answered: the moment to measure a server's memory per idle connection. "
                + "Exit code 1 if a connection failed or closed while held.")
        String hold;

        @Option(names = "--batch", description = "Read h3load command lines (options and URL, separated by spaces) "
                + "from stdin, one per line, run them one after the other in this JVM, and print each report as one "
                + "line of JSON on stdout (or {\"error\": ..., \"exitCode\": N}); ends at end of input. Runs after "
                + "the first find the JIT warm, as a long benchmark needs (scripts/bench).")
        boolean batch;
    }

    @Option(names = "--keep-alive", paramLabel = "DURATION", defaultValue = "10s",
            description = "With --hold: send an empty frame of a reserved type on each connection's HTTP/3 control "
                    + "stream this often (one small ack-eliciting packet), so idle timeouts (30s by default in "
                    + "quicfleet and quic-go) do not close held connections; 0s for none (default ${DEFAULT-VALUE}).")
    private String keepAlive;
    @Option(names = "--new-connection-per-request", description = "Each request on a connection of its own, closed "
            + "after the response: measures handshakes (-m is then 1).")
    private boolean newConnectionPerRequest;

    @Option(names = "--resume", description = "Resume TLS sessions: one priming connection (not counted) fetches a "
            + "ticket, then every connection offers the newest ticket it has.")
    private boolean resume;

    @Option(names = "--early-data", description = "Send requests as 0-RTT early data when the ticket allows it "
            + "(implies --resume).")
    private boolean earlyData;

    @Option(names = "--json", description = "Print the report as JSON on stdout.")
    private boolean json;

    @Option(names = {"-k", "--insecure"}, description = "Accept any server certificate.")
    private boolean insecure;

    @Option(names = "--cacert", paramLabel = "FILE", description = "Also trust the certificates in this PEM file.")
    private List<Path> caFiles = new ArrayList<>();

    @Option(names = {"-H", "--header"}, paramLabel = "'NAME: VALUE'", description = "Extra request header field.")
    private List<String> headers = new ArrayList<>();

    @Option(names = {"-t", "--threads"}, paramLabel = "N", defaultValue = "1",
            description = "Event loop threads (default ${DEFAULT-VALUE}).")
    private int threads;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "30s",
            description = "Longest one request may take (default ${DEFAULT-VALUE}).")
    private String timeout;

    @Option(names = "--connect-timeout", paramLabel = "DURATION", defaultValue = "10s",
            description = "Longest QUIC handshake (default ${DEFAULT-VALUE}).")
    private String connectTimeout;

    @Option(names = "--no-progress", description = "No progress lines on stderr.")
    private boolean noProgress;

    @Option(names = "--ack-every", paramLabel = "N",
            description = "Acknowledge received packets every N datagrams (or 1 ms after the first unacknowledged "
                    + "one; anything h3load writes goes out at once with the pending ACK), like ngtcp2's "
                    + "--ack-thresh. 1 acknowledges after every read of the socket, quiche's own behaviour, which "
                    + "on a fast path means every packet (default " + DEFAULT_ACK_EVERY + "; 1 with "
                    + "--new-connection-per-request).")
    private Integer ackEvery;

    @Option(names = "--gro", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Receive with UDP GRO where the transport has it (epoll; not io_uring or NIO in Netty "
                    + "4.2): one read takes a whole burst the server sent with GSO (default on; --no-gro).")
    private boolean gro;

    @Option(names = "--transport", paramLabel = "NAME", description = "io_uring, epoll or nio (default: the best "
            + "available, io_uring > epoll > NIO).")
    private String transport;

    @Option(names = "--window", paramLabel = "CONNECTION[,STREAM]", defaultValue = "64MiB,32MiB",
            description = "QUIC receive windows of each connection and each request stream (like gtlsclient's "
                    + "--max-data and --max-stream-data-bidi-local): how far the server may send ahead of what "
                    + "h3load has read (default ${DEFAULT-VALUE}).")
    private String window;

    private final PrintStream out;
    private final PrintStream err;
    /** Set for a command run by --batch: the report is one line of JSON. */
    private final boolean batched;

    H3LoadMain(PrintStream out, PrintStream err, boolean batched) {
        this.out = out;
        this.err = err;
        this.batched = batched;
    }

    /** Runs {@code h3load} and exits with its code. */
    public static void main(String[] args) {
        // A load generator tracks no buffer leaks unless asked to: Netty's default sampling records a stack trace
        // for one buffer in 128, thousands a second in a download.
        if (System.getProperty("io.netty.leakDetection.level") == null) {
            System.setProperty("io.netty.leakDetection.level", "disabled");
        }
        System.exit(run(args, System.out, System.err));
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        return run(args, out, err, false);
    }

    private static int run(String[] args, PrintStream out, PrintStream err, boolean batched) {
        CommandLine cl = new CommandLine(new H3LoadMain(out, err, batched));
        cl.setErr(new java.io.PrintWriter(err, true));
        cl.setExpandAtFiles(false);
        cl.setParameterExceptionHandler((e, a) -> {
            err.println("error: " + e.getMessage());
            err.println("usage: h3load -c CONNECTIONS -m STREAMS (-n REQUESTS | -D DURATION | --hold DURATION) "
                    + "[--new-connection-per-request] [--resume] [--early-data] [--json] URL, or h3load --batch "
                    + "(h3load --help for all)");
            return 2;
        });
        return cl.execute(args);
    }

    @Override
    public Integer call() {
        if (amount != null && amount.batch) {
            return batch();
        }
        try {
            return load();
        } catch (H3Main.Failure f) {
            err.println("error: " + f.getMessage());
            return f.code;
        } catch (H3Exception e) {
            err.println("error: " + e.getMessage());
            return H3Main.exitCode(e);
        } catch (InterruptedException e) {
            err.println("error: interrupted");
            return 1;
        } catch (java.io.IOException e) {
            err.println("error: cannot write the report: " + e.getMessage());
            return 1;
        }
    }

    /**
     * {@code --batch}: runs each command line read from stdin as its own h3load run in this JVM and prints its report
     * as one line of JSON. What a command prints on stderr (progress, "holding:", errors) goes to stderr as it
     * happens.
     */
    private int batch() {
        ObjectMapper mapper = new ObjectMapper();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        try {
            String line;
            while ((line = in.readLine()) != null) {
                String command = line.strip();
                if (command.isEmpty()) {
                    continue;
                }
                ByteArrayOutputStream report = new ByteArrayOutputStream();
                ByteArrayOutputStream errors = new ByteArrayOutputStream();
                int code;
                try (PrintStream capture = new PrintStream(report, true, StandardCharsets.UTF_8);
                     PrintStream tee = new PrintStream(new TeeOutputStream(err, errors), true,
                             StandardCharsets.UTF_8)) {
                    code = run(command.split("\\s+"), capture, tee, true);
                }
                String json = report.toString(StandardCharsets.UTF_8).strip();
                if (json.isEmpty() || json.indexOf('\n') >= 0) {
                    String why = errors.toString(StandardCharsets.UTF_8).lines()
                            .filter(l -> l.startsWith("error: ")).findFirst().map(l -> l.substring(7))
                            .orElse("no report (exit code " + code + ")");
                    json = mapper.writeValueAsString(Map.of("error", why, "exitCode", code));
                }
                out.println(json);
                out.flush();
            }
            return 0;
        } catch (java.io.IOException e) {
            err.println("error: --batch: " + e.getMessage());
            return 1;
        }
    }

    /** Copies to a stream and keeps a copy. */
    private static final class TeeOutputStream extends java.io.OutputStream {
        private final java.io.OutputStream a;
        private final java.io.OutputStream b;

        TeeOutputStream(java.io.OutputStream a, java.io.OutputStream b) {
            this.a = a;
            this.b = b;
        }

        @Override
        public void write(int c) throws java.io.IOException {
            a.write(c);
            b.write(c);
        }

        @Override
        public void write(byte[] bytes, int off, int len) throws java.io.IOException {
            a.write(bytes, off, len);
            b.write(bytes, off, len);
        }

        @Override
        public void flush() throws java.io.IOException {
            a.flush();
            b.flush();
        }
    }

    private int load() throws H3Main.Failure, H3Exception, InterruptedException, java.io.IOException {
        if (amount == null) {
            throw new H3Main.Failure(2, "one of -n, -D, --hold or --batch is required (h3load --help)");
        }
        if (url == null) {
            throw new H3Main.Failure(2, "no URL given (h3load --help)");
        }
        URI uri = H3Main.parseUrl(url);
        if (connections < 1 || streams < 1 || threads < 1) {
            throw new H3Main.Failure(2, "-c, -m and -t must be at least 1");
        }
        if (amount.requests != null && amount.requests < 1) {
            throw new H3Main.Failure(2, "-n " + amount.requests + ": expected at least 1");
        }
        Duration duration = amount.duration == null ? null : H3Main.duration(amount.duration, "-D");
        Duration hold = amount.hold == null ? null : H3Main.duration(amount.hold, "--hold");
        Duration keepAliveEvery = H3Main.duration(keepAlive, "--keep-alive");
        if (keepAliveEvery.isNegative()) {
            throw new H3Main.Failure(2, "--keep-alive " + keepAlive + ": expected 0 or more");
        }
        if (hold != null && newConnectionPerRequest) {
            throw new H3Main.Failure(2, "--hold and --new-connection-per-request: use one of them");
        }
        H3Request.Builder rb = H3Request.builder(uri).timeout(H3Main.duration(timeout, "--timeout"));
        for (String h : headers) {
            int colon = h.indexOf(':');
            if (colon <= 0) {
                throw new H3Main.Failure(2, "-H " + h + ": expected 'NAME: VALUE'");
            }
            rb.header(h.substring(0, colon).trim(), h.substring(colon + 1).trim());
        }
        H3Request request = rb.build();
        InetSocketAddress address;
        try {
            address = new InetSocketAddress(InetAddress.getByName(uri.getHost()), request.port());
        } catch (UnknownHostException e) {
            throw new H3ConnectException("cannot resolve host " + uri.getHost(), e);
        }
        boolean resumeSessions = resume || earlyData;
        LoadRun.Settings settings = new LoadRun.Settings(request, address, connections,
                newConnectionPerRequest || hold != null ? 1 : streams, amount.requests == null ? -1 : amount.requests,
                duration, newConnectionPerRequest, resumeSessions, earlyData, hold,
                keepAliveEvery.isZero() ? null : keepAliveEvery);
        // A connection per request carries one small response: holding ACKs saves nothing there. And with them, the
        // CONNECTION_CLOSE of most resumed connections never left h3load (154 of 200 with -c 8 stayed open on the
        // server until its idle timeout, which slowed every later handshake): an open defect of DelayedAcks at close.
        int ackEvery = this.ackEvery != null ? this.ackEvery : newConnectionPerRequest ? 1 : DEFAULT_ACK_EVERY;
        if (ackEvery < 1 || ackEvery > 1000) {
            throw new H3Main.Failure(2, "--ack-every " + ackEvery + ": expected 1..1000");
        }
        long[] windows = windows(window);
        H3Client.Builder builder = H3Client.builder().insecure(insecure).earlyData(earlyData).threads(threads)
                .ackEvery(ackEvery, H3Client.DEFAULT_MAX_ACK_DELAY).gro(gro).windows(windows[0], windows[1])
                .connectTimeout(H3Main.duration(connectTimeout, "--connect-timeout"))
                .sessionStore(resumeSessions ? SessionStore.inMemory() : SessionStore.none());
        if (transport != null) {
            builder.transport(transport(transport));
        }
        caFiles.forEach(builder::trust);
        try (H3Client client = builder.build()) {
            LoadRun run = new LoadRun(client, settings, noProgress ? null : err, err);
            LoadReport report = run.run();
            if (batched) {
                out.println(new ObjectMapper().writeValueAsString(report));
            } else if (json) {
                out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                        .writeValueAsString(report));
            } else {
                out.print(report.text());
            }
            out.flush();
            return report.errorsTotal() == 0 && report.requestsDone() > 0 && report.lostWhileHeld() == 0 ? 0 : 1;
        }
    }

    /** {@code --window CONNECTION[,STREAM]}: sizes like 64MiB; the stream window defaults to half the other. */
    static long[] windows(String value) throws H3Main.Failure {
        String[] parts = value.split(",", -1);
        if (parts.length > 2) {
            throw new H3Main.Failure(2, "--window " + value + ": expected CONNECTION[,STREAM], e.g. 64MiB,32MiB");
        }
        try {
            long connection = ConfigValues.size("--window", parts[0].strip());
            long stream = parts.length == 2 ? ConfigValues.size("--window", parts[1].strip()) : connection / 2;
            if (connection < 1 || stream < 1 || stream > connection) {
                throw new H3Main.Failure(2, "--window " + value + ": expected 0 < STREAM <= CONNECTION");
            }
            return new long[] {connection, stream};
        } catch (IllegalArgumentException e) {
            throw new H3Main.Failure(2, e.getMessage());
        }
    }

    /** {@code --transport NAME}, which must be available here. */
    static Transport transport(String name) throws H3Main.Failure {
        try {
            return Transport.parse(name).require();
        } catch (IllegalArgumentException e) {
            throw new H3Main.Failure(2, "--" + e.getMessage());
        } catch (RuntimeException e) {
            throw new H3Main.Failure(2, "--transport " + name + ": " + e.getMessage());
        }
    }

    static String rate(double perSecond) {
        return String.format(Locale.ROOT, "%.1f", perSecond);
    }
}
