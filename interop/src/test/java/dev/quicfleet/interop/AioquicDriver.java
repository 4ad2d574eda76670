package dev.quicfleet.interop;

import static dev.quicfleet.interop.InteropCluster.HANDSHAKES;
import static dev.quicfleet.interop.InteropCluster.SUCCESS;

import dev.quicfleet.supervisor.SupervisorProcess;
import dev.quicfleet.worker.Peers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** aioquic 1.2 (Debian trixie's python3-aioquic) through aioquic_client.py, in the trixie chroot. */
final class AioquicDriver implements Driver {

    private static final Duration TIMEOUT = Duration.ofSeconds(90);

    @Override
    public String name() {
        return "aioquic";
    }

    @Override
    public String unavailable() {
        return Trixie.unavailable("/usr/lib/python3/dist-packages/aioquic/__init__.py", "python3-aioquic");
    }

    /** One client run: its JSON line, and the bodies it wrote. */
    private record Result(String json, Path dir, String stderr) {
        String bodies(List<String> paths) throws Exception {
            for (int i = 0; i < paths.size(); i++) {
                String name = paths.get(i).substring(paths.get(i).lastIndexOf('/') + 1);
                String failure = Bodies.check(Trixie.outside(dir.resolve(Integer.toString(i))),
                        GtlsclientDriver.size(name));
                if (failure != null) {
                    return paths.get(i) + ": " + failure + (json.isEmpty() ? " (client: " + stderr + ")" : "");
                }
            }
            return null;
        }

        boolean has(String fact) {
            return json.contains(fact);
        }
    }

    private static Result client(int port, Path dir, List<String> paths, String... options) throws Exception {
        List<String> command = new ArrayList<>(List.of("python3", Trixie.script("aioquic_client.py").toString(),
                Integer.toString(port), dir.toString()));
        command.addAll(paths);
        command.addAll(List.of(options));
        Peers.Run run = Trixie.run(command, TIMEOUT);
        String err = run.stderrText();
        return new Result(run.stdoutText().strip(), dir, err.substring(Math.max(0, err.length() - 300)).strip());
    }

    @Override
    public Outcome run(Case c, InteropCluster cluster, Path unused) throws Exception {
        Path dir = Trixie.directory(name(), c);
        int port = cluster.port();
        SupervisorProcess main = cluster.main();
        return switch (c) {
            case HANDSHAKE -> oneConnection(main, port, dir, List.of("/bytes/1k"));
            case TRANSFER -> oneConnection(main, port, dir, List.of("/bytes/1m", "/bytes/1m", "/bytes/1m",
                    "/bytes/10m"));
            case HTTP3 -> oneConnection(main, port, dir, List.of("/bytes/64k", "/bytes/100k"));
            case MULTIPLEXING -> oneConnection(main, port, dir, Collections.nCopies(200, "/bytes/4k"), "--parallel");
            case CHACHA20 -> oneConnection(main, port, dir, List.of("/bytes/1m"), "--chacha20");
            case KEYUPDATE -> {
                Result r = client(port, dir, List.of("/bytes/1m", "/bytes/10m"), "--key-update");
                yield Outcome.check("1 MiB, a client-initiated key update, then 10 MiB, exact",
                        r.bodies(List.of("/bytes/1m", "/bytes/10m")),
                        r.has("\"key_update\": true") ? null : "no key update: " + r.json());
            }
            case RETRY -> {
                SupervisorProcess retry = cluster.retry();
                InteropCluster.Metrics before = InteropCluster.metrics(retry);
                Result r = client(retry.port(), dir, List.of("/bytes/1m"));
                long retries = InteropCluster.metrics(retry).since(before, "quicfleet_quic_retry_sent_total");
                yield Outcome.check("Retry followed, token accepted, body exact", r.bodies(List.of("/bytes/1m")),
                        retries >= 1 ? null : "the cluster sent no Retry");
            }
            case MULTICONNECT -> {
                InteropCluster.Metrics before = InteropCluster.metrics(main);
                for (int i = 0; i < 5; i++) {
                    Path each = Trixie.directory(name(), c).resolve("c" + i);
                    Files.createDirectories(Trixie.outside(each));
                    String failure = client(port, each, List.of("/bytes/1m")).bodies(List.of("/bytes/1m"));
                    if (failure != null) {
                        yield Outcome.fail("connection " + (i + 1) + ": " + failure);
                    }
                }
                long handshakes = InteropCluster.metrics(main).since(before, HANDSHAKES, SUCCESS);
                yield Outcome.check("5 connections, each body exact",
                        handshakes == 5 ? null : handshakes + " handshakes, expected 5");
            }
            case RESUMPTION, ZERORTT -> {
                boolean early = c == Case.ZERORTT;
                String ticket = dir.resolve("ticket").toString();
                CrossWorker.Attempt first = () -> client(port, dir, List.of("/bytes/1k"), "--ticket-out", ticket)
                        .bodies(List.of("/bytes/1k"));
                CrossWorker.Attempt resumed = () -> {
                    Result r = early ? client(port, dir, List.of("/bytes/1k"), "--ticket-in", ticket, "--zero-rtt")
                            : client(port, dir, List.of("/bytes/1k"), "--ticket-in", ticket);
                    if (!r.has("\"resumed\": true")) {
                        return "aioquic did not resume: " + r.json();
                    }
                    if (early && !r.has("\"early_data_accepted\": true")) {
                        return "early data not accepted: " + r.json();
                    }
                    return r.bodies(List.of("/bytes/1k"));
                };
                yield CrossWorker.run(main, first, resumed, early);
            }
            case V2 -> {
                InteropCluster.Metrics before = InteropCluster.metrics(main);
                Result r = client(port, dir, List.of("/bytes/1m"), "--v2");
                long negotiations = InteropCluster.metrics(main).since(before,
                        "quicfleet_quic_version_negotiations_total", "outcome=\"sent\"");
                yield Outcome.check("v2 Initial answered by Version Negotiation (v1), then v1; body exact",
                        negotiations >= 1 ? null : "the cluster sent no Version Negotiation",
                        r.has("\"version\": \"0x1\"") ? null : "not on v1: " + r.json(),
                        r.bodies(List.of("/bytes/1m")));
            }
            case REBIND_PORT, REBIND_ADDR -> Rebinding.run(c, cluster,
                    relayPort -> client(relayPort, dir, List.of("/bytes/10m")).bodies(List.of("/bytes/10m")));
            case CONNECTIONMIGRATION -> {
                Result r = client(port, dir, List.of("/bytes/10m"), "--migrate");
                yield Outcome.check("10 MiB exact; the client moved to a new local port after 1 MiB",
                        r.has("\"migrated\"") ? null : "did not migrate: " + r.json(),
                        r.bodies(List.of("/bytes/10m")));
            }
        };
    }

    private Outcome oneConnection(SupervisorProcess cluster, int port, Path dir, List<String> paths,
                                  String... options) throws Exception {
        InteropCluster.Metrics before = InteropCluster.metrics(cluster);
        Result r = client(port, dir, paths, options);
        long handshakes = InteropCluster.metrics(cluster).since(before, HANDSHAKES, SUCCESS);
        return Outcome.check(paths.size() + (paths.size() == 1 ? " body" : " bodies") + " exact on 1 connection",
                r.bodies(paths),
                handshakes == 1 ? null : handshakes + " handshakes, expected 1");
    }
}
