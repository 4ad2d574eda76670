package dev.quicfleet.interop;

import static dev.quicfleet.interop.InteropCluster.HANDSHAKES;
import static dev.quicfleet.interop.InteropCluster.SUCCESS;

import dev.quicfleet.supervisor.SupervisorProcess;
import dev.quicfleet.worker.Peers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** ngtcp2's example client (GnuTLS), installed by scripts/install-test-deps; docs/TEST-PEERS.md. */
final class GtlsclientDriver implements Driver {

    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static final List<String> LOG = List.of("--no-quic-dump", "--no-http-dump");

    @Override
    public String name() {
        return "gtlsclient";
    }

    @Override
    public String unavailable() {
        return Files.isExecutable(Path.of(Peers.GTLSCLIENT)) ? null
                : Peers.GTLSCLIENT + " is not installed (scripts/install-test-deps installs it)";
    }

    @Override
    public Outcome run(Case c, InteropCluster cluster, Path dir) throws Exception {
        int port = cluster.port();
        SupervisorProcess main = cluster.main();
        return switch (c) {
            case HANDSHAKE -> oneConnection(main, port, dir, List.of(), 1, "/bytes/1k");
            case TRANSFER -> oneConnection(main, port, dir, List.of(), 4, "/bytes/1m", "/bytes/1024k",
                    "/bytes/1048576", "/bytes/10m");
            case HTTP3 -> oneConnection(main, port, dir, List.of(), 2, "/bytes/64k", "/bytes/100k");
            case CHACHA20 -> oneConnection(main, port, dir, List.of(
                    "--ciphers=NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305"), 1, "/bytes/1m");
            case MULTIPLEXING -> multiplexing(main, port, dir);
            case RETRY -> retry(cluster.retry(), dir);
            case MULTICONNECT -> multiconnect(main, port, dir);
            case RESUMPTION -> resumption(main, port, dir, false);
            case ZERORTT -> resumption(main, port, dir, true);
            case KEYUPDATE -> logged(main, port, dir, List.of("--key-update=20ms"),
                    List.of("Initiate key update"), "10 MiB exact across a client-initiated key update",
                    "the client's log shows no key update");
            case V2 -> v2(main, port, dir);
            case CONNECTIONMIGRATION -> logged(main, port, dir, List.of("--change-local-addr=100ms"),
                    List.of("PATH_RESPONSE"), "10 MiB exact across the client's migration to a new address",
                    "the client received no PATH_RESPONSE for its new path");
            case REBIND_PORT, REBIND_ADDR -> Rebinding.run(c, cluster, relayPort -> {
                Peers.gtlsclient(relayPort, List.of("-q", "--download=" + dir, "--timeout=20s"), TIMEOUT,
                        "/bytes/10m");
                return Bodies.check(dir.resolve("10m"), Rebinding.BYTES);
            });
        };
    }

    /** Downloads {@code paths} on one connection, checks every body and that the cluster saw one handshake. */
    private static Outcome oneConnection(SupervisorProcess cluster, int port, Path dir, List<String> args,
                                         int count, String... paths) throws Exception {
        InteropCluster.Metrics before = InteropCluster.metrics(cluster);
        List<String> all = new ArrayList<>(List.of("-q", "--download=" + dir));
        all.addAll(args);
        Peers.Run run = Peers.gtlsclient(port, all, TIMEOUT, paths);
        String failure = checkBodies(dir, paths);
        long handshakes = InteropCluster.metrics(cluster).since(before, HANDSHAKES, SUCCESS);
        return Outcome.check(count + (count == 1 ? " body" : " bodies") + " exact on 1 connection",
                failure == null ? null : failure + tail(run),
                handshakes == 1 ? null : handshakes + " handshakes, expected 1");
    }

    private static String checkBodies(Path dir, String... paths) throws Exception {
        for (String path : paths) {
            String name = path.substring(path.lastIndexOf('/') + 1);
            String failure = Bodies.check(dir.resolve(name), size(name));
            if (failure != null) {
                return failure;
            }
        }
        return null;
    }

    static long size(String name) {
        long unit = name.endsWith("m") ? Bodies.MIB : name.endsWith("k") ? Bodies.KIB : 1;
        return Long.parseLong(unit == 1 ? name : name.substring(0, name.length() - 1)) * unit;
    }

    private static Outcome multiplexing(SupervisorProcess cluster, int port, Path dir) throws Exception {
        InteropCluster.Metrics before = InteropCluster.metrics(cluster);
        List<String> args = new ArrayList<>(LOG);
        args.addAll(List.of("--download=" + dir, "-n", "200"));
        Peers.Run run = Peers.gtlsclient(port, args, TIMEOUT, "/bytes/4k");
        long ok = run.stderr().stream().filter(l -> l.text().matches("http: stream 0x[0-9a-f]+ \\[:status: 200]"))
                .count();
        long handshakes = InteropCluster.metrics(cluster).since(before, HANDSHAKES, SUCCESS);
        return Outcome.check("200 requests on 1 connection, all 200",
                ok == 200 ? null : ok + " of 200 responses had :status 200",
                Bodies.check(dir.resolve("4k"), 4 * Bodies.KIB),
                handshakes == 1 ? null : handshakes + " handshakes, expected 1");
    }

    private static Outcome retry(SupervisorProcess cluster, Path dir) throws Exception {
        InteropCluster.Metrics before = InteropCluster.metrics(cluster);
        List<String> args = new ArrayList<>(LOG);
        args.add("--download=" + dir);
        Peers.Run run = Peers.gtlsclient(cluster.port(), args, TIMEOUT, "/bytes/1m");
        InteropCluster.Metrics after = InteropCluster.metrics(cluster);
        long retries = after.since(before, "quicfleet_quic_retry_sent_total");
        return Outcome.check("Retry received, token accepted, body exact",
                run.stderrContains("type=Retry") ? null : "the client logged no Retry packet",
                retries >= 1 ? null : "the cluster sent no Retry",
                Bodies.check(dir.resolve("1m"), Bodies.MIB));
    }

    private static Outcome multiconnect(SupervisorProcess cluster, int port, Path dir) throws Exception {
        InteropCluster.Metrics before = InteropCluster.metrics(cluster);
        for (int i = 0; i < 5; i++) {
            Path each = Files.createDirectories(dir.resolve("c" + i));
            Peers.gtlsclient(port, List.of("-q", "--download=" + each), TIMEOUT, "/bytes/1m");
            String failure = Bodies.check(each.resolve("1m"), Bodies.MIB);
            if (failure != null) {
                return Outcome.fail("connection " + (i + 1) + ": " + failure);
            }
        }
        long handshakes = InteropCluster.metrics(cluster).since(before, HANDSHAKES, SUCCESS);
        return Outcome.check("5 connections, each body exact",
                handshakes == 5 ? null : handshakes + " handshakes, expected 5");
    }

    private static Outcome resumption(SupervisorProcess cluster, int port, Path dir, boolean earlyData)
            throws Exception {
        List<String> session = List.of("--session-file=" + dir.resolve("session"), "--tp-file=" + dir.resolve("tp"),
                "--wait-for-ticket");
        CrossWorker.Attempt first = () -> {
            List<String> args = new ArrayList<>(session);
            args.addAll(List.of("-q", "--download=" + dir));
            if (!earlyData) {
                args.add("--disable-early-data");
            }
            Peers.gtlsclient(port, args, TIMEOUT, "/bytes/1k");
            return Bodies.check(dir.resolve("1k"), Bodies.KIB);
        };
        CrossWorker.Attempt resumed = () -> {
            Files.deleteIfExists(dir.resolve("1k"));
            List<String> args = new ArrayList<>(session);
            args.addAll(LOG);
            args.add("--download=" + dir);
            if (!earlyData) {
                args.add("--disable-early-data");
            }
            Peers.Run run = Peers.gtlsclient(port, args, TIMEOUT, "/bytes/1k");
            if (earlyData && !run.stderrContains("type=0RTT")) {
                return "the client sent no 0-RTT packet";
            }
            if (run.stderrContains("Early data was rejected")) {
                return "the server rejected the early data";
            }
            return Bodies.check(dir.resolve("1k"), Bodies.KIB);
        };
        return CrossWorker.run(cluster, first, resumed, earlyData);
    }

    /** A 10 MiB download whose client log must contain every {@code evidence} (the case's events happened). */
    private static Outcome logged(SupervisorProcess cluster, int port, Path dir, List<String> extra,
                                  List<String> evidence,
                                  String passDetail, String missing) throws Exception {
        List<String> args = new ArrayList<>(LOG);
        args.add("--download=" + dir);
        args.addAll(extra);
        Peers.Run run = Peers.gtlsclient(port, args, TIMEOUT, "/bytes/10m");
        return Outcome.check(passDetail, evidence.stream().allMatch(run::stderrContains) ? null : missing,
                Bodies.check(dir.resolve("10m"), 10 * Bodies.MIB));
    }

    private static Outcome v2(SupervisorProcess cluster, int port, Path dir) throws Exception {
        InteropCluster.Metrics before = InteropCluster.metrics(cluster);
        List<String> args = new ArrayList<>(LOG);
        args.addAll(List.of("--download=" + dir, "--version=v2", "--preferred-versions=v2,v1"));
        Peers.Run run = Peers.gtlsclient(port, args, TIMEOUT, "/bytes/1m");
        long negotiations = InteropCluster.metrics(cluster).since(before, "quicfleet_quic_version_negotiations_total",
                "outcome=\"sent\"");
        return Outcome.check("v2 Initial answered by Version Negotiation (v1), then v1; body exact",
                negotiations >= 1 ? null : "the cluster sent no Version Negotiation" + tail(run),
                Bodies.check(dir.resolve("1m"), Bodies.MIB));
    }

    private static String tail(Peers.Run run) {
        String text = run.stderrText();
        return text.isEmpty() ? "" : " (client: " + text.substring(Math.max(0, text.length() - 300)).strip() + ")";
    }
}
