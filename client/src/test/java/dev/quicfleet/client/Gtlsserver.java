package dev.quicfleet.client;

import java.io.IOException;
import java.net.BindException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The ngtcp2 example server ({@code gtlsserver}, GnuTLS; installed by scripts/install-test-deps) serving a
 * directory on 127.0.0.1 with a fresh self-signed certificate for localhost. Its stderr (one
 * {@code http: stream 0x.. [:path: ...]} line per request, among others) goes to a file, so tests can count what it
 * served. Killed by its pid on {@link #close()}.
 */
final class Gtlsserver implements AutoCloseable {

    static final String BINARY = "/usr/sbin/gtlsserver";

    private final Path dir;
    private final int port;
    private Process process;

    private Gtlsserver(Path dir, int port) {
        this.dir = dir;
        this.port = port;
    }

    /** Generates a certificate and starts the server on a free UDP port. */
    static Gtlsserver start() throws IOException, InterruptedException {
        if (!Files.isExecutable(Path.of(BINARY))) {
            throw new IllegalStateException(BINARY + " is not installed: run ./scripts/install-test-deps");
        }
        Path dir = Files.createTempDirectory("quicfleet-gtlsserver-");
        Files.createDirectories(dir.resolve("www"));
        run(List.of("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-keyout", dir.resolve("key.pem").toString(), "-out", dir.resolve("cert.pem").toString()));
        IllegalStateException taken = null;
        for (int attempt = 0; attempt < 5; attempt++) {
            int port;
            try (DatagramSocket probe = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(),
                    0))) {
                port = probe.getLocalPort();
            }
            Gtlsserver server = new Gtlsserver(dir, port);
            try {
                server.launch();
                return server;
            } catch (IllegalStateException e) {
                server.stop();
                // Another process took the free port between the probe and gtlsserver's bind (seen with other test
                // suites running on the machine): try another one.
                if (!e.getMessage().contains("Could not bind")) {
                    throw e;
                }
                taken = e;
            }
        }
        throw taken;
    }

    /** (Re)starts the process on the same port; a restart has new ticket keys, so old tickets no longer resume. */
    void launch() throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(BINARY, "--no-quic-dump", "--no-http-dump", "-d",
                dir.resolve("www").toString(), "127.0.0.1", Integer.toString(port),
                dir.resolve("key.pem").toString(), dir.resolve("cert.pem").toString()));
        process = new ProcessBuilder(command).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(dir.resolve("stderr.log").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            // bound once the port is taken
            try (DatagramSocket probe = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(),
                    port))) {
                if (!process.isAlive() || System.nanoTime() > deadline) {
                    throw new IllegalStateException("gtlsserver did not bind UDP " + port + "; log: "
                            + Files.readString(dir.resolve("stderr.log")));
                }
            } catch (BindException e) {
                return;
            }
            Thread.sleep(20);
        }
    }

    /** Stops the process (by its pid), waiting at most 10 s. */
    void stop() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }

    int port() {
        return port;
    }

    Path certificate() {
        return dir.resolve("cert.pem");
    }

    /** A file served at {@code /name}. */
    Path file(String name) {
        return dir.resolve("www").resolve(name);
    }

    /** How many requests for {@code path} the server logged so far. */
    long requestsLogged(String path) throws IOException {
        String needle = "[:path: " + path + "]";
        try (Stream<String> lines = Files.lines(dir.resolve("stderr.log"), java.nio.charset.StandardCharsets.ISO_8859_1)) {
            return lines.filter(l -> l.startsWith("http: stream ") && l.contains(needle)).count();
        }
    }

    @Override
    public void close() throws IOException, InterruptedException {
        stop();
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private static void run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IllegalStateException(command.get(0) + " failed: " + command);
        }
    }
}
