package dev.quicfleet.interop;

import dev.quicfleet.worker.RebindingUdpRelay;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * rebind-port and rebind-addr: the client downloads 10 MiB through the project's rebinding relay (RebindingIT's),
 * which changes the client's source port (or address, 127.0.0.2 → 127.0.0.3) after 3 MB and drops the datagrams in
 * flight at that moment. Any client can be put behind it: it never knows.
 */
final class Rebinding {

    static final long BYTES = 10 * Bodies.MIB;
    private static final long REBIND_AFTER = 3_000_000;

    private Rebinding() {
    }

    /** A download through the relay: returns null when all bytes came, else what went wrong. */
    interface Download {
        String through(int relayPort) throws Exception;
    }

    /**
     * Runs the download through a new relay until the relay dropped datagrams at the rebinding (at most 3 times: with
     * nothing in flight at that instant there was nothing to lose, and the run proves less).
     */
    static Outcome run(Case c, InteropCluster cluster, Download download) throws Exception {
        Outcome outcome = null;
        for (int attempt = 1; attempt <= 3; attempt++) {
            outcome = once(c, cluster, download);
            if (outcome.result() != Outcome.Result.PASS || !outcome.detail().startsWith("0 datagrams")) {
                return outcome;
            }
        }
        return Outcome.fail("3 runs, and the relay never had a datagram in flight to drop at the rebinding ("
                + outcome.detail() + ")");
    }

    private static Outcome once(Case c, InteropCluster cluster, Download download) throws Exception {
        InetAddress first = InetAddress.getByName("127.0.0.2");
        InetAddress second = c == Case.REBIND_ADDR ? InetAddress.getByName("127.0.0.3") : first;
        InetSocketAddress server = new InetSocketAddress(InetAddress.getLoopbackAddress(), cluster.port());
        try (RebindingUdpRelay relay = RebindingUdpRelay.start(server, first, second, REBIND_AFTER,
                Duration.ofMillis(5))) {
            long start = System.nanoTime();
            String failure = download.through(relay.port());
            double seconds = (System.nanoTime() - start) / 1e9;
            if (!relay.rebound()) {
                return Outcome.fail("the relay never rebound (" + failure + ")");
            }
            if (failure != null) {
                return Outcome.fail(failure + String.format(" (%d datagrams dropped, %.1f s)", relay.dropped(),
                        seconds));
            }
            return Outcome.check(String.format("%d datagrams dropped as the %s changed after 3 MB, 10 MiB exact in "
                            + "%.1f s", relay.dropped(), c == Case.REBIND_ADDR ? "address" : "port", seconds),
                    seconds < 15 ? null : String.format("took %.1f s (a stall until an idle timeout?)", seconds));
        }
    }
}
