package dev.quicfleet.interop;

import static dev.quicfleet.interop.InteropCluster.HANDSHAKES;
import static dev.quicfleet.interop.InteropCluster.SUCCESS;

import dev.quicfleet.worker.Peers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Headless Chromium (Debian's), forced onto HTTP/3, loading the demo site's home page; its own net-log is the oracle
 * (the QUIC handshake completed, the version, the HTTP/3 response headers). {@code --dump-dom} loads one page, and no
 * page of the demo site fetches more, so only the cases that one page load exercises run.
 */
final class ChromiumDriver implements Driver {

    private static final Pattern SPKI = Pattern.compile("--ignore-certificate-errors-spki-list=(\\S+)\\)");
    private static final String ONE_PAGE = "headless --dump-dom loads one page (the demo site's has no scripts that "
            + "fetch more) and Chromium has no switch for ";

    @Override
    public String name() {
        return "Chromium";
    }

    @Override
    public String unavailable() {
        return Files.isExecutable(Path.of(Peers.CHROMIUM)) ? null
                : Peers.CHROMIUM + " is not installed (scripts/install-test-deps installs it)";
    }

    @Override
    public Outcome run(Case c, InteropCluster cluster, Path dir) throws Exception {
        return switch (c) {
            case HANDSHAKE, HTTP3 -> load(cluster, dir);
            case TRANSFER, MULTIPLEXING -> Outcome.na(ONE_PAGE + "several downloads");
            case RETRY -> Outcome.na(ONE_PAGE + "a server that always sends Retry: --origin-to-force-quic-on "
                    + "names one origin, and the retry cluster is another");
            case RESUMPTION, ZERORTT -> Outcome.na("a second page load needs a second Chromium run, which starts "
                    + "with an empty TLS session cache");
            case MULTICONNECT -> Outcome.na(ONE_PAGE + "several connections");
            case KEYUPDATE -> Outcome.na("Chromium has no switch to ask for a key update");
            case CHACHA20 -> Outcome.na("Chromium has no switch to restrict its TLS 1.3 cipher suites");
            case V2 -> Outcome.na("Chromium has no switch to start with QUIC v2");
            case REBIND_PORT, REBIND_ADDR -> Outcome.na("the relay's port is another origin than the one "
                    + "--origin-to-force-quic-on forces onto QUIC");
            case CONNECTIONMIGRATION -> Outcome.na("Chromium migrates only when its network changes");
        };
    }

    private static Outcome load(InteropCluster cluster, Path dir) throws Exception {
        String line = cluster.main().awaitStderr(l -> SPKI.matcher(l).find(), Duration.ofSeconds(5));
        if (line == null) {
            return Outcome.fail("the cluster printed no SPKI pin for Chromium");
        }
        Matcher m = SPKI.matcher(line);
        m.find();
        Path netLog = dir.resolve("net-log.json");
        InteropCluster.Metrics before = InteropCluster.metrics(cluster.main());
        Peers.Run run = Peers.chromiumDumpDom(cluster.port(), m.group(1), "/", Duration.ofSeconds(90),
                List.of("--log-net-log=" + netLog));
        long handshakes = InteropCluster.metrics(cluster.main()).since(before, HANDSHAKES, SUCCESS);
        String log = Files.exists(netLog) ? Files.readString(netLog) : "";
        return Outcome.check("the page over HTTP/3, " + handshakes + " handshake(s) on the cluster; its net-log: "
                        + "a QUIC v1 (RFCv1) session, HTTP/3 :status 200",
                run.stdoutText().contains("over h3") ? null : "the page was not loaded over h3",
                log.contains("\"version\":\"RFCv1\"") ? null : "the net-log has no QUIC v1 session",
                log.contains(":status: 200") ? null : "the net-log has no HTTP/3 :status 200",
                handshakes >= 1 ? null : "the cluster saw no QUIC handshake");
    }
}
