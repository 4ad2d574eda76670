package dev.quicfleet.interop;

import static dev.quicfleet.interop.InteropCluster.HANDSHAKES;
import static dev.quicfleet.interop.InteropCluster.SUCCESS;

import dev.quicfleet.supervisor.SupervisorProcess;
import dev.quicfleet.worker.Peers;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The curl command of Debian trixie (8.14.1; its HTTP/3 is OpenSSL 3.5's own QUIC stack with nghttp3, not ngtcp2),
 * in the trixie chroot, with {@code --http3-only}. One run reuses its connection for every URL.
 */
final class CurlDriver implements Driver {

    private static final Duration TIMEOUT = Duration.ofSeconds(90);

    @Override
    public String name() {
        return "curl (OpenSSL QUIC)";
    }

    @Override
    public String unavailable() {
        return Trixie.unavailable("/usr/bin/curl", "curl");
    }

    /** Runs curl for {@code paths} (one run, one connection); null if every body is exact over HTTP/3. */
    private static String curl(int port, Path dir, List<String> paths, String... options) throws Exception {
        List<String> command = new ArrayList<>(List.of("curl", "-sS", "--http3-only", "-k", "--max-time", "60",
                "--resolve", "localhost:" + port + ":127.0.0.1", "-w", "%{http_code} %{http_version}\\n"));
        command.addAll(List.of(options));
        for (int i = 0; i < paths.size(); i++) {
            command.addAll(List.of("-o", dir.resolve(Integer.toString(i)).toString(),
                    "https://localhost:" + port + paths.get(i)));
        }
        Peers.Run run = Trixie.run(command, TIMEOUT);
        for (int i = 0; i < paths.size(); i++) {
            String name = paths.get(i).substring(paths.get(i).lastIndexOf('/') + 1);
            String failure = Bodies.check(Trixie.outside(dir.resolve(Integer.toString(i))),
                    GtlsclientDriver.size(name));
            if (failure != null) {
                String err = run.stderrText();
                return paths.get(i) + ": " + failure + " (curl: " + err.substring(Math.max(0, err.length() - 200))
                        .strip() + ")";
            }
        }
        int h3 = Trixie.count(run.stdoutText(), "200 3\n");
        return h3 == paths.size() ? null : h3 + " of " + paths.size() + " responses were 200 over HTTP/3";
    }

    @Override
    public Outcome run(Case c, InteropCluster cluster, Path unused) throws Exception {
        Path dir = Trixie.directory("curl", c);
        int port = cluster.port();
        SupervisorProcess main = cluster.main();
        return switch (c) {
            case HANDSHAKE -> oneConnection(main, port, dir, List.of("/bytes/1k"));
            case TRANSFER -> oneConnection(main, port, dir, List.of("/bytes/1m", "/bytes/1m", "/bytes/1m",
                    "/bytes/10m"));
            case HTTP3 -> oneConnection(main, port, dir, List.of("/bytes/64k", "/bytes/100k"));
            case MULTIPLEXING -> oneConnection(main, port, dir, Collections.nCopies(50, "/bytes/4k"), "--parallel",
                    "--parallel-max", "50");
            case CHACHA20 -> oneConnection(main, port, dir, List.of("/bytes/1m"), "--tls13-ciphers",
                    "TLS_CHACHA20_POLY1305_SHA256");
            case RETRY -> {
                SupervisorProcess retry = cluster.retry();
                InteropCluster.Metrics before = InteropCluster.metrics(retry);
                String failure = curl(retry.port(), dir, List.of("/bytes/1m"));
                long retries = InteropCluster.metrics(retry).since(before, "quicfleet_quic_retry_sent_total");
                yield Outcome.check("Retry followed, token accepted, body exact", failure,
                        retries >= 1 ? null : "the cluster sent no Retry");
            }
            case MULTICONNECT -> {
                InteropCluster.Metrics before = InteropCluster.metrics(main);
                for (int i = 0; i < 5; i++) {
                    String failure = curl(port, dir, List.of("/bytes/1m"));
                    if (failure != null) {
                        yield Outcome.fail("connection " + (i + 1) + ": " + failure);
                    }
                }
                long handshakes = InteropCluster.metrics(main).since(before, HANDSHAKES, SUCCESS);
                yield Outcome.check("5 runs, 5 connections, each body exact",
                        handshakes == 5 ? null : handshakes + " handshakes, expected 5");
            }
            case RESUMPTION -> Outcome.na("a TLS session never reaches a second connection: this build cannot "
                    + "save sessions (--ssl-sessions: \"the installed libcurl version does not support this\") and "
                    + "one run reuses its connection; see curl (ngtcp2)");
            case ZERORTT -> Outcome.na("no session to resume (see resumption), and OpenSSL 3.5's QUIC client has no "
                    + "0-RTT; see curl (ngtcp2)");
            case KEYUPDATE -> Outcome.na("curl has no option to ask for a key update");
            case V2 -> Outcome.na("curl has no option to choose the QUIC version");
            case CONNECTIONMIGRATION -> Outcome.na("curl has no option to move a connection to a new address");
            case REBIND_PORT, REBIND_ADDR -> Rebinding.run(c, cluster,
                    relayPort -> curl(relayPort, dir, List.of("/bytes/10m")));
        };
    }

    private static Outcome oneConnection(SupervisorProcess cluster, int port, Path dir, List<String> paths,
                                         String... options) throws Exception {
        InteropCluster.Metrics before = InteropCluster.metrics(cluster);
        String failure = curl(port, dir, paths, options);
        long handshakes = InteropCluster.metrics(cluster).since(before, HANDSHAKES, SUCCESS);
        return Outcome.check(paths.size() + (paths.size() == 1 ? " body" : " bodies")
                + " exact over HTTP/3 on 1 connection", failure,
                handshakes == 1 ? null : handshakes + " handshakes, expected 1");
    }
}
