package dev.quicfleet.client;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
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
 */
@Command(name = "h3load", mixinStandardHelpOptions = true, sortOptions = false, usageHelpAutoWidth = true,
        description = "Sends many HTTP/3 requests over concurrent connections and streams and reports how it went.")
public final class H3LoadMain implements Callable<Integer> {

    @Parameters(paramLabel = "URL", description = "https://HOST[:PORT]/PATH, requested with GET")
    private String url;

    @Option(names = {"-c", "--connections"}, paramLabel = "N", defaultValue = "1",
            description = "Concurrent connections (default ${DEFAULT-VALUE}).")
    private int connections;

    @Option(names = {"-m", "--max-concurrent-streams"}, paramLabel = "N", defaultValue = "1",
            description = "Concurrent requests per connection (default ${DEFAULT-VALUE}).")
    private int streams;

    @ArgGroup(exclusive = true, multiplicity = "1")
    private Amount amount;

    static final class Amount {
        @Option(names = {"-n", "--requests"}, paramLabel = "N", description = "Total requests.")
        Long requests;

        @Option(names = {"-D", "--duration"}, paramLabel = "DURATION", description = "Run for this long (10s, 1m).")
        String duration;
    }

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

    private final PrintStream out;
    private final PrintStream err;

    H3LoadMain(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    /** Runs {@code h3load} and exits with its code. */
    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        CommandLine cl = new CommandLine(new H3LoadMain(out, err));
        cl.setErr(new java.io.PrintWriter(err, true));
        cl.setExpandAtFiles(false);
        cl.setParameterExceptionHandler((e, a) -> {
            err.println("error: " + e.getMessage());
            err.println("usage: h3load -c CONNECTIONS -m STREAMS (-n REQUESTS | -D DURATION) "
                    + "[--new-connection-per-request] [--resume] [--early-data] [--json] URL (h3load --help for all)");
            return 2;
        });
        return cl.execute(args);
    }

    @Override
    public Integer call() {
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

    private int load() throws H3Main.Failure, H3Exception, InterruptedException, java.io.IOException {
        URI uri = H3Main.parseUrl(url);
        if (connections < 1 || streams < 1 || threads < 1) {
            throw new H3Main.Failure(2, "-c, -m and -t must be at least 1");
        }
        if (amount.requests != null && amount.requests < 1) {
            throw new H3Main.Failure(2, "-n " + amount.requests + ": expected at least 1");
        }
        Duration duration = amount.duration == null ? null : H3Main.duration(amount.duration, "-D");
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
                newConnectionPerRequest ? 1 : streams, amount.requests == null ? -1 : amount.requests, duration,
                newConnectionPerRequest, resumeSessions, earlyData);
        H3Client.Builder builder = H3Client.builder().insecure(insecure).earlyData(earlyData).threads(threads)
                .connectTimeout(H3Main.duration(connectTimeout, "--connect-timeout"))
                .sessionStore(resumeSessions ? SessionStore.inMemory() : SessionStore.none());
        caFiles.forEach(builder::trust);
        try (H3Client client = builder.build()) {
            LoadRun run = new LoadRun(client, settings, noProgress ? null : err);
            LoadReport report = run.run();
            if (json) {
                out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                        .writeValueAsString(report));
            } else {
                out.print(report.text());
            }
            out.flush();
            return report.errorsTotal() == 0 && report.requestsDone() > 0 ? 0 : 1;
        }
    }

    static String rate(double perSecond) {
        return String.format(Locale.ROOT, "%.1f", perSecond);
    }
}
