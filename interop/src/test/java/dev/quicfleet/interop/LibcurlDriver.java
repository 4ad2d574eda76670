package dev.quicfleet.interop;

import static dev.quicfleet.interop.InteropCluster.FULL;
import static dev.quicfleet.interop.InteropCluster.HANDSHAKES;
import static dev.quicfleet.interop.InteropCluster.RESUMED;
import static dev.quicfleet.interop.InteropCluster.SUCCESS;

import dev.quicfleet.supervisor.SupervisorProcess;
import dev.quicfleet.worker.Peers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * libcurl 8.14 with ngtcp2 1.11 and GnuTLS (trixie's libcurl3t64-gnutls, through python3-pycurl and
 * libcurl_client.py): the curl build with ngtcp2 that trixie has (its curl command uses OpenSSL's QUIC instead).
 * libcurl keeps TLS sessions per process, so resumption and 0-RTT are checked within one run of fresh connections.
 */
final class LibcurlDriver implements Driver {

    private static final Duration TIMEOUT = Duration.ofSeconds(120);

    @Override
    public String name() {
        return "curl (ngtcp2)";
    }

    @Override
    public String unavailable() {
        return Trixie.unavailable("/usr/lib/python3/dist-packages/pycurl.cpython-313-x86_64-linux-gnu.so",
                "python3-pycurl");
    }

    private record Result(String json, Path dir, List<String> paths, String stderr) {
        String bodies() throws Exception {
            for (int i = 0; i < paths.size(); i++) {
                String name = paths.get(i).substring(paths.get(i).lastIndexOf('/') + 1);
                String failure = Bodies.check(Trixie.outside(dir.resolve(Integer.toString(i))),
                        GtlsclientDriver.size(name));
                if (failure != null) {
                    return paths.get(i) + ": " + failure + " (client: " + (json.isEmpty() ? stderr : json) + ")";
                }
            }
            int h3 = Trixie.count(json, "\"http_version\": 30");
            return h3 == paths.size() ? null : h3 + " of " + paths.size() + " responses over HTTP/3: " + json;
        }
    }

    private static Result client(int port, Path dir, List<String> paths, String... options) throws Exception {
        List<String> command = new ArrayList<>(List.of("python3", Trixie.script("libcurl_client.py").toString(),
                Integer.toString(port), dir.toString()));
        command.addAll(paths);
        command.addAll(List.of(options));
        Peers.Run run = Trixie.run(command, TIMEOUT);
        String err = run.stderrText();
        return new Result(run.stdoutText().strip(), dir, paths, err.substring(Math.max(0, err.length() - 300))
                .strip());
    }

    @Override
    public Outcome run(Case c, InteropCluster cluster, Path unused) throws Exception {
        Path dir = Trixie.directory("libcurl", c);
        int port = cluster.port();
        SupervisorProcess main = cluster.main();
        return switch (c) {
            case HANDSHAKE -> connections(main, 1, () -> client(port, dir, List.of("/bytes/1k")));
            case TRANSFER -> connections(main, 1, () -> client(port, dir, List.of("/bytes/1m", "/bytes/1m", "/bytes/1m",
                    "/bytes/10m")));
            case HTTP3 -> connections(main, 1, () -> client(port, dir, List.of("/bytes/64k", "/bytes/100k")));
            case MULTIPLEXING -> connections(main, 1, () -> client(port, dir, Collections.nCopies(50, "/bytes/4k"),
                    "--parallel"));
            case CHACHA20 -> connections(main, 1, () -> client(port, dir, List.of("/bytes/1m"), "--chacha20"));
            case MULTICONNECT -> connections(main, 5, () -> client(port, dir, Collections.nCopies(5, "/bytes/1m"),
                    "--fresh"));
            case RETRY -> {
                SupervisorProcess retry = cluster.retry();
                InteropCluster.Metrics before = InteropCluster.metrics(retry);
                Result r = client(retry.port(), dir, List.of("/bytes/1m"));
                long retries = InteropCluster.metrics(retry).since(before, "quicfleet_quic_retry_sent_total");
                yield Outcome.check("Retry followed, token accepted, body exact", r.bodies(),
                        retries >= 1 ? null : "the cluster sent no Retry");
            }
            case RESUMPTION -> resumption(main, port, dir, false);
            case ZERORTT -> resumption(main, port, dir, true);
            case KEYUPDATE -> Outcome.na("libcurl has no way to ask for a key update");
            case V2 -> Outcome.na("libcurl has no option to choose the QUIC version (it starts with v1)");
            case CONNECTIONMIGRATION -> Outcome.na("libcurl has no option to move a connection to a new address");
            case REBIND_PORT, REBIND_ADDR -> Rebinding.run(c, cluster, relayPort -> {
                Files.createDirectories(Trixie.outside(dir));
                return client(relayPort, dir, List.of("/bytes/10m")).bodies();
            });
        };
    }

    private interface Run {
        Result run() throws Exception;
    }

    /** Runs the client; checks its bodies and that the cluster saw {@code expected} handshakes meanwhile. */
    private static Outcome connections(SupervisorProcess cluster, int expected, Run client) throws Exception {
        InteropCluster.Metrics before = InteropCluster.metrics(cluster);
        Result r = client.run();
        long handshakes = InteropCluster.metrics(cluster).since(before, HANDSHAKES, SUCCESS);
        int n = r.paths().size();
        return Outcome.check(n + (n == 1 ? " body" : " bodies") + " exact over HTTP/3 on " + expected
                        + (expected == 1 ? " connection" : " connections"), r.bodies(),
                handshakes == expected ? null : handshakes + " handshakes, expected " + expected);
    }

    /**
     * One run: a full handshake, then 8 fresh connections, each resuming with the newest ticket (the one the
     * connection before got, from whichever worker served it); passes when resumed connections landed on both
     * workers, so that at least one used a ticket of the other worker.
     */
    private static Outcome resumption(SupervisorProcess cluster, int port, Path dir, boolean early) throws Exception {
        InteropCluster.Metrics before = InteropCluster.metrics(cluster);
        List<String> paths = Collections.nCopies(9, "/bytes/1k");
        Result r = early ? client(port, dir, paths, "--fresh", "--early") : client(port, dir, paths, "--fresh");
        InteropCluster.Metrics after = InteropCluster.metrics(cluster);
        Map<String, Long> full = after.byWorkerSince(before, HANDSHAKES, SUCCESS, FULL);
        Map<String, Long> resumed = after.byWorkerSince(before, HANDSHAKES, SUCCESS, RESUMED);
        long earlyRequests = after.since(before, "quicfleet_quic_early_data_requests_total");
        String detail = "1 full handshake, 8 resumed (by worker " + resumed + ")"
                + (early ? ", " + earlyRequests + " of 8 requests in 0-RTT" : "");
        return Outcome.check(detail, r.bodies(),
                full.values().stream().mapToLong(Long::longValue).sum() == 1 ? null : "full handshakes " + full,
                resumed.values().stream().mapToLong(Long::longValue).sum() == 8 ? null : detail,
                resumed.size() == 2 ? null : "every resumption on one worker: " + detail,
                !early || earlyRequests > 0 ? null : detail);
    }
}
