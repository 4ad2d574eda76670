package dev.quicfleet.worker;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * The independent HTTP/3 peers the integration tests drive (installed by {@code scripts/install-test-deps}): the
 * ngtcp2 example client ({@code gtlsclient}, GnuTLS, no quiche or BoringSSL) and headless Chromium. Neither exits
 * non-zero on an HTTP or QUIC failure (see docs/TEST-PEERS.md), so results are read from their output.
 */
public final class Peers {

    public static final String GTLSCLIENT = "/usr/bin/gtlsclient";
    public static final String CHROMIUM = "/usr/bin/chromium";
    static final String NGHTTP = "/usr/bin/nghttp";

    private Peers() {
    }

    /** One line of a peer's output and when it arrived (ms since the peer started). */
    public record Line(long millis, String text) {
    }

    /** What a peer run produced. */
    public record Run(int exitCode, List<Line> stdout, List<Line> stderr) {
        public boolean stderrContains(String text) {
            return stderr.stream().anyMatch(l -> l.text().contains(text));
        }

        public String stderrText() {
            StringBuilder out = new StringBuilder();
            stderr.forEach(l -> out.append(l.text()).append('\n'));
            return out.toString();
        }

        public String stdoutText() {
            StringBuilder out = new StringBuilder();
            stdout.forEach(l -> out.append(l.text()).append('\n'));
            return out.toString();
        }
    }

    public static void requireInstalled(String binary) {
        if (!Files.isExecutable(Path.of(binary))) {
            throw new IllegalStateException(binary + " is not installed: run ./scripts/install-test-deps (the README's "
                    + "test command ./scripts/test does it)");
        }
    }

    /**
     * Runs gtlsclient against 127.0.0.1:{@code port}. {@code args} go before the address; {@code paths} become
     * {@code https://localhost:PORT/path} URIs.
     */
    public static Run gtlsclient(int port, List<String> args, Duration timeout, String... paths)
            throws IOException, InterruptedException {
        return gtlsclient(port, args, timeout, line -> { }, paths);
    }

    /** {@link #gtlsclient(int, List, Duration, String...)}, calling {@code onStderr} as each line arrives. */
    public static Run gtlsclient(int port, List<String> args, Duration timeout, Consumer<Line> onStderr,
                                 String... paths)
            throws IOException, InterruptedException {
        requireInstalled(GTLSCLIENT);
        List<String> command = new ArrayList<>(List.of(GTLSCLIENT, "--exit-on-all-streams-close",
                "--handshake-timeout=10s", "--timeout=15s"));
        command.addAll(args);
        command.add("127.0.0.1");
        command.add(Integer.toString(port));
        for (String path : paths) {
            command.add("https://localhost:" + port + path);
        }
        return run(command, timeout, null, onStderr, line -> { });
    }

    /**
     * Runs nghttp2's HTTP/2 client with {@code -v} (every frame sent and received, on stdout) and {@code -n}
     * (bodies discarded) against https://localhost:{@code port}{@code path}; {@code onStdout} sees each line.
     */
    static Run nghttp(int port, String path, Duration timeout, Consumer<Line> onStdout)
            throws IOException, InterruptedException {
        requireInstalled(NGHTTP);
        List<String> command = List.of(NGHTTP, "-v", "-n", "--timeout=20",
                "https://localhost:" + port + path);
        return run(command, timeout, null, line -> { }, onStdout);
    }

    /** Loads {@code path} in headless Chromium forced onto HTTP/3 and returns the DOM after scripts ran. */
    public static Run chromiumDumpDom(int port, String spkiSha256Base64, String path, Duration timeout)
            throws IOException, InterruptedException {
        return chromiumDumpDom(port, spkiSha256Base64, path, timeout, List.of());
    }

    /** {@link #chromiumDumpDom(int, String, String, Duration)} with {@code extra} switches (e.g. a net-log). */
    public static Run chromiumDumpDom(int port, String spkiSha256Base64, String path, Duration timeout,
                                      List<String> extra) throws IOException, InterruptedException {
        requireInstalled(CHROMIUM);
        Path profile = Files.createTempDirectory("quicfleet-chromium");
        try {
            List<String> command = new ArrayList<>(List.of(CHROMIUM, "--headless", "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", "--user-data-dir=" + profile, "--enable-quic",
                    "--origin-to-force-quic-on=localhost:" + port,
                    "--ignore-certificate-errors-spki-list=" + spkiSha256Base64,
                    "--host-resolver-rules=MAP localhost 127.0.0.1, MAP * ~NOTFOUND"));
            command.addAll(extra);
            command.addAll(List.of("--dump-dom", "https://localhost:" + port + path));
            return run(command, timeout, null, line -> { }, line -> { });
        } finally {
            try (Stream<Path> files = Files.walk(profile)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /**
     * Runs a command with a deadline; kills it (by its pid, and its children) when the deadline passes.
     * {@code onStderr} and {@code onStdout} see every line as it comes; {@code null} for none.
     */
    public static Run run(List<String> command, Duration timeout, Path workDir, Consumer<Line> onStderr,
                   Consumer<Line> onStdout) throws IOException, InterruptedException {
        ProcessBuilder builder = new ProcessBuilder(command);
        if (workDir != null) {
            builder.directory(workDir.toFile());
        }
        long start = System.nanoTime();
        Process process = builder.start();
        process.getOutputStream().close();
        List<Line> out = new ArrayList<>();
        List<Line> err = new ArrayList<>();
        Thread outPump = pump(process.getInputStream(), out, start, onStdout);
        Thread errPump = pump(process.getErrorStream(), err, start, onStderr);
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new AssertionError(command.get(0) + " did not finish within " + timeout + "; stderr tail: "
                        + tail(err));
            }
            outPump.join(5000);
            errPump.join(5000);
            synchronized (out) {
                synchronized (err) {
                    return new Run(process.exitValue(), List.copyOf(out), List.copyOf(err));
                }
            }
        } finally {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
        }
    }

    private static String tail(List<Line> lines) {
        synchronized (lines) {
            return lines.subList(Math.max(0, lines.size() - 10), lines.size()).toString();
        }
    }

    private static Thread pump(InputStream in, List<Line> sink, long start, Consumer<Line> listener) {
        return Thread.ofPlatform().daemon().start(() -> {
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = reader.readLine()) != null) {
                    Line entry = new Line(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start), line);
                    synchronized (sink) {
                        sink.add(entry);
                    }
                    if (listener != null) {
                        listener.accept(entry);
                    }
                }
            } catch (IOException e) {
                // process gone
            }
        });
    }
}
