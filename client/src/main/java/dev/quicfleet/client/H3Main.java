package dev.quicfleet.client;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code h3}: a curl-like HTTP/3 client. The body goes to stdout (or {@code -o FILE}); {@code -v} tells on stderr
 * how the request went (protocol, TLS resumption, early data, RTT, response header fields). Exit codes follow curl:
 * 0 done (whatever the status), 2 usage, 6 unknown host, 7 no connection, 26 cannot read the body file, 23 cannot
 * write the output, 28 timeout, 35 TLS handshake failed, 56 stream reset or connection lost, 1 anything else.
 */
@Command(name = "h3", mixinStandardHelpOptions = true, sortOptions = false, usageHelpAutoWidth = true,
        description = "Sends one HTTP/3 request and writes the response body to stdout.")
public final class H3Main implements Callable<Integer> {

    @Parameters(paramLabel = "URL", description = "https://HOST[:PORT]/PATH")
    private String url;

    @Option(names = {"-v", "--verbose"}, description = "Print protocol, TLS resumption, early data, RTT and the "
            + "response header fields to stderr.")
    private boolean verbose;

    @Option(names = {"-k", "--insecure"}, description = "Accept any server certificate.")
    private boolean insecure;

    @Option(names = "--cacert", paramLabel = "FILE", description = "Also trust the certificates in this PEM file.")
    private List<Path> caFiles = new ArrayList<>();

    @Option(names = {"-X", "--request"}, paramLabel = "METHOD", description = "Request method (default GET, or POST "
            + "with -d).")
    private String method;

    @Option(names = {"-d", "--data"}, paramLabel = "DATA", description = "Request body: a string, or @FILE for a "
            + "file's content (streamed), @- for stdin.")
    private String data;

    @Option(names = {"-H", "--header"}, paramLabel = "'NAME: VALUE'", description = "Extra request header field.")
    private List<String> headers = new ArrayList<>();

    @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "Write the body to FILE instead of stdout.")
    private Path output;

    @Option(names = "--session-file", paramLabel = "FILE", description = "Resume the TLS session stored in FILE and "
            + "store the server's new ticket there (created 0600).")
    private Path sessionFile;

    @Option(names = "--early-data", description = "Send the request as 0-RTT early data when the stored session "
            + "allows it (needs --session-file).")
    private boolean earlyData;

    @Option(names = "--connect-timeout", paramLabel = "DURATION", defaultValue = "10s",
            description = "Longest QUIC handshake (default ${DEFAULT-VALUE}).")
    private String connectTimeout;

    @Option(names = {"-m", "--max-time"}, paramLabel = "DURATION", description = "Longest the whole exchange may "
            + "take, body included (default: no limit).")
    private String maxTime;

    @Option(names = "--qlog-dir", paramLabel = "DIR", description = "Write the connection's qlog into DIR.")
    private Path qlogDir;

    private final PrintStream err;
    private final OutputStream out;

    H3Main(OutputStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    /** Runs {@code h3} and exits with its code. */
    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs {@code h3} with these streams; returns the exit code. */
    static int run(String[] args, OutputStream out, PrintStream err) {
        CommandLine cl = new CommandLine(new H3Main(out, err));
        cl.setErr(new java.io.PrintWriter(err, true));
        cl.setExpandAtFiles(false); // -d @FILE is ours
        cl.setParameterExceptionHandler((e, a) -> {
            err.println("error: " + e.getMessage());
            err.println("usage: h3 [-v] [-k] [--cacert F] [-X METHOD] [-d DATA|@FILE] [-H 'N: V'] [-o FILE] "
                    + "[--session-file F] [--early-data] URL (h3 --help for all)");
            return 2;
        });
        return cl.execute(args);
    }

    @Override
    public Integer call() {
        try {
            return exchange();
        } catch (Failure f) {
            err.println("error: " + f.getMessage());
            return f.code;
        } catch (H3Exception e) {
            err.println("error: " + e.getMessage());
            return exitCode(e);
        } catch (InterruptedException e) {
            err.println("error: interrupted");
            return 1;
        }
    }

    private int exchange() throws H3Exception, InterruptedException, Failure {
        URI uri = parseUrl(url);
        Duration connect = duration(connectTimeout, "--connect-timeout");
        Duration max = maxTime == null ? null : duration(maxTime, "--max-time");
        if (earlyData && sessionFile == null) {
            throw new Failure(2, "--early-data needs --session-file (0-RTT resumes a stored session)");
        }
        H3Request.Builder request = H3Request.builder(uri).timeout(max);
        for (String h : headers) {
            int colon = h.indexOf(':');
            if (colon <= 0) {
                throw new Failure(2, "-H " + h + ": expected 'NAME: VALUE'");
            }
            request.header(h.substring(0, colon).trim(), h.substring(colon + 1).trim());
        }
        if (data != null) {
            request.body(body(data));
        }
        request.method(method != null ? method : data != null ? "POST" : "GET");

        H3Client.Builder builder = H3Client.builder().insecure(insecure).earlyData(earlyData)
                .connectTimeout(connect).qlogDir(qlogDir)
                .sessionStore(sessionFile != null ? SessionStore.file(sessionFile) : SessionStore.none());
        caFiles.forEach(builder::trust);
        try (H3Client client = builder.build()) {
            if (sessionFile != null && !client.resumptionAvailable()) {
                err.println("warning: session resumption is unavailable with this Netty version: "
                        + NettySessionCache.unavailabilityCause());
            }
            H3Connection connection;
            H3Response<InputStream> response;
            for (int attempt = 1; ; attempt++) {
                // Sent before the handshake finishes, so it can go out as 0-RTT early data.
                connection = client.open(uri.getHost(), request.build().port());
                try {
                    response = H3Client.await(connection.send(request.build(), BodyHandler.ofInputStream()));
                    break;
                } catch (H3GoAwayException e) {
                    // Not processed by the server: safe to send again, unless the body was stdin (read already).
                    if (attempt > H3Client.GOAWAY_RETRIES || "@-".equals(data)) {
                        throw e;
                    }
                    if (verbose) {
                        err.println("* " + e.getMessage() + "; sending it again on a new connection");
                    }
                }
            }
            if (verbose) {
                describe(connection, response);
            }
            long bytes = copyBody(response.body());
            if (verbose) {
                for (Map.Entry<String, String> t : response.trailers()) {
                    err.println("< " + t.getKey() + ": " + t.getValue() + " (trailer)");
                }
                err.println("* body: " + bytes + " bytes");
                statsLine(connection);
            }
            if (sessionFile != null) {
                boolean got = H3Client.await(connection.awaitTicket(Duration.ofSeconds(1)));
                if (verbose) {
                    err.println("* session ticket: " + (got ? "received, stored in " + sessionFile
                            : "none received within 1s; " + sessionFile + " unchanged"));
                }
            }
            H3Client.await(connection.closeAsync().orTimeout(5, TimeUnit.SECONDS)
                    .exceptionally(t -> null));
            return 0;
        }
    }

    private void describe(H3Connection c, H3Response<?> r) {
        err.println("* connected to " + c.peer());
        err.println("* protocol: " + c.protocol() + " over QUIC, " + c.tlsProtocol() + " " + c.cipherSuite());
        err.println("* handshake: " + millis(c.handshakeTime()) + ", TLS session "
                + (Boolean.TRUE.equals(c.resumed()) ? "resumed" : Boolean.FALSE.equals(c.resumed())
                ? (c.offeredTicket() ? "not resumed (the server refused the stored ticket)" : "new (no stored ticket)")
                : "resumption unknown"));
        err.println("* early data: " + switch (c.earlyData()) {
            case OFF -> "off (use --early-data)";
            case NOT_SENT -> "not sent (" + (c.offeredTicket() ? "the stored ticket does not allow 0-RTT"
                    : "no stored ticket") + ")";
            case ACCEPTED -> r.sentEarly() ? "sent, accepted (the request went out in 0-RTT)"
                    : "accepted, but the request went out after the handshake";
            case REJECTED -> "sent, rejected (the request was sent again after the handshake)";
        });
        err.println("< HTTP/3 " + r.status());
        for (Map.Entry<String, String> h : r.headers()) {
            err.println("< " + h.getKey() + ": " + h.getValue());
        }
    }

    private void statsLine(H3Connection c) throws InterruptedException {
        try {
            ConnectionStats s = H3Client.await(c.stats());
            err.printf(Locale.ROOT, "* rtt %.3f ms, cwnd %d, packets sent %d, lost %d, retransmitted %d, "
                            + "received %d%n", s.rtt() == null ? Double.NaN : s.rtt().toNanos() / 1e6, s.cwnd(),
                    s.packetsSent(), s.packetsLost(), s.packetsRetransmitted(), s.packetsReceived());
        } catch (H3Exception e) {
            err.println("* stats: " + e.getMessage());
        }
    }

    private long copyBody(InputStream body) throws H3Exception, Failure {
        OutputStream sink = out;
        boolean toFile = output != null;
        try {
            if (toFile) {
                sink = Files.newOutputStream(output);
            }
        } catch (IOException e) {
            throw new Failure(23, "cannot write " + output + ": " + e.getMessage());
        }
        long total = 0;
        byte[] buf = new byte[64 * 1024];
        try (InputStream in = body) {
            int n;
            while ((n = in.read(buf)) >= 0) {
                try {
                    sink.write(buf, 0, n);
                } catch (IOException e) {
                    throw new Failure(23, "cannot write " + (toFile ? output : "stdout") + ": " + e.getMessage());
                }
                total += n;
            }
            sink.flush();
        } catch (H3Exception e) {
            throw e;
        } catch (IOException e) {
            throw new Failure(23, "cannot write " + (toFile ? output : "stdout") + ": " + e.getMessage());
        } finally {
            if (toFile) {
                try {
                    sink.close();
                } catch (IOException e) {
                    // reported by the write above if it mattered
                }
            }
        }
        return total;
    }

    private RequestBody body(String d) throws Failure {
        if (d.equals("@-")) {
            return RequestBody.ofInputStream(() -> System.in, -1);
        }
        if (d.startsWith("@")) {
            Path file = Path.of(d.substring(1));
            if (!Files.isReadable(file) || Files.isDirectory(file)) {
                throw new Failure(26, "cannot read " + file + ": " + (Files.exists(file)
                        ? "not a readable file" : "no such file"));
            }
            return RequestBody.ofFile(file);
        }
        return RequestBody.of(d.getBytes(StandardCharsets.UTF_8));
    }

    static URI parseUrl(String url) throws Failure {
        try {
            URI uri = new URI(url);
            if (!"https".equalsIgnoreCase(uri.getScheme()) || uri.getHost() == null) {
                throw new Failure(2, "URL " + url + ": expected https://HOST[:PORT]/PATH");
            }
            return uri;
        } catch (URISyntaxException e) {
            throw new Failure(2, "URL " + url + ": " + e.getMessage());
        }
    }

    /** {@code 500ms}, {@code 10s}, {@code 2m}, or ISO-8601 ({@code PT10S}). */
    static Duration duration(String value, String option) throws Failure {
        try {
            return dev.quicfleet.transport.ConfigValues.duration(option, value);
        } catch (IllegalArgumentException e) {
            throw new Failure(2, e.getMessage());
        }
    }

    static String millis(Duration d) {
        return d == null ? "-" : String.format(Locale.ROOT, "%.1f ms", d.toNanos() / 1e6);
    }

    static int exitCode(H3Exception e) {
        if (e.getCause() instanceof UnknownHostException) {
            return 6;
        }
        return switch (e.kind()) {
            case "connect" -> 7;
            case "timeout" -> 28;
            case "tls" -> 35;
            case "stream-reset", "protocol", "goaway" -> 56;
            default -> e.getMessage().startsWith("cannot read the request body") ? 26 : 1;
        };
    }

    /** A failure with its own exit code, reported as one line. */
    static final class Failure extends Exception {
        private static final long serialVersionUID = 1L;
        final int code;

        Failure(int code, String message) {
            super(message);
            this.code = code;
        }
    }
}
