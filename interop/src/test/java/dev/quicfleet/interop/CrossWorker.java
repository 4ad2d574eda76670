package dev.quicfleet.interop;

import static dev.quicfleet.interop.InteropCluster.FULL;
import static dev.quicfleet.interop.InteropCluster.HANDSHAKES;
import static dev.quicfleet.interop.InteropCluster.RESUMED;
import static dev.quicfleet.interop.InteropCluster.SUCCESS;

import dev.quicfleet.supervisor.SupervisorProcess;
import java.util.Map;

/**
 * The resumption and zerortt cases with a ticket from the other worker: one full handshake, then resumed
 * connections with its ticket until one lands on the other worker (steering hashes a new connection's 4-tuple, so
 * each attempt has an even chance; 16 attempts miss with odds 1 in 65,536). The workers' metrics tell which worker did
 * the full handshake and which one resumed, and how many requests came in 0-RTT.
 */
final class CrossWorker {

    static final int ATTEMPTS = 16;
    private static final String EARLY = "quicfleet_quic_early_data_requests_total";

    private CrossWorker() {
    }

    /** A client run: null when the client saw what it should, else what went wrong. */
    interface Attempt {
        String run() throws Exception;
    }

    static Outcome run(SupervisorProcess cluster, Attempt first, Attempt resumed, boolean earlyData)
            throws Exception {
        InteropCluster.Metrics before = InteropCluster.metrics(cluster);
        String failure = attempt(first);
        if (failure != null) {
            return Outcome.fail("first connection: " + failure);
        }
        InteropCluster.Metrics afterFirst = InteropCluster.metrics(cluster);
        Map<String, Long> full = afterFirst.byWorkerSince(before, HANDSHAKES, SUCCESS, FULL);
        if (full.size() != 1) {
            return Outcome.fail("first connection: full handshakes by worker " + full + ", expected one");
        }
        String issuer = full.keySet().iterator().next();
        InteropCluster.Metrics last = afterFirst;
        for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
            failure = attempt(resumed);
            InteropCluster.Metrics now = InteropCluster.metrics(cluster);
            if (failure != null) {
                return Outcome.fail("resumed connection " + attempt + ": " + failure);
            }
            Map<String, Long> resumedBy = now.byWorkerSince(last, HANDSHAKES, SUCCESS, RESUMED);
            Map<String, Long> fullBy = now.byWorkerSince(last, HANDSHAKES, SUCCESS, FULL);
            if (resumedBy.isEmpty()) {
                return Outcome.fail("connection " + attempt + " with the ticket of worker " + issuer
                        + " was not resumed (full handshakes " + fullBy + ")");
            }
            long early = now.since(last, EARLY);
            if (earlyData && early == 0) {
                return Outcome.fail("resumed on worker " + resumedBy.keySet() + " but no request came in 0-RTT");
            }
            if (!resumedBy.containsKey(issuer)) {
                return Outcome.pass("ticket from worker " + issuer + " resumed on worker " + resumedBy.keySet()
                        .iterator().next() + (earlyData ? ", " + early + " request(s) in 0-RTT" : "")
                        + (attempt > 1 ? " (attempt " + attempt + ")" : ""));
            }
            last = now;
        }
        return Outcome.fail("every one of " + ATTEMPTS + " resumed connections landed on the issuing worker "
                + issuer);
    }

    private static String attempt(Attempt attempt) {
        try {
            return attempt.run();
        } catch (Exception e) {
            return e.getClass().getSimpleName() + ": " + e.getMessage();
        }
    }
}
