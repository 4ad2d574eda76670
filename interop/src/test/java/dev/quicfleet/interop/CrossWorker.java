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

    /**
     * One connection of the case may fail — its failure is named in the outcome's detail, never dropped (see
     * docs/INTEROP.md, "Intermittent"): a second one fails the case.
     */
    static Outcome run(SupervisorProcess cluster, Attempt first, Attempt resumed, boolean earlyData)
            throws Exception {
        String tolerated = null;
        InteropCluster.Metrics before = InteropCluster.metrics(cluster);
        String failure = attempt(first);
        if (failure != null) {
            tolerated = "first connection: " + failure;
            before = InteropCluster.metrics(cluster);
            failure = attempt(first);
            if (failure != null) {
                return Outcome.fail("first connection, twice: " + failure + "; before: " + tolerated);
            }
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
            Map<String, Long> resumedBy = now.byWorkerSince(last, HANDSHAKES, SUCCESS, RESUMED);
            Map<String, Long> fullBy = now.byWorkerSince(last, HANDSHAKES, SUCCESS, FULL);
            long early = now.since(last, EARLY);
            last = now;
            if (failure == null && resumedBy.isEmpty()) {
                failure = "not resumed (full handshakes " + fullBy + ")";
            } else if (failure == null && earlyData && early == 0) {
                failure = "resumed on worker " + resumedBy.keySet() + " but no request came in 0-RTT";
            }
            if (failure != null) {
                String which = "resumed connection " + attempt + " (ticket of worker " + issuer + "): " + failure;
                if (tolerated != null) {
                    return Outcome.fail(which + "; before: " + tolerated);
                }
                tolerated = which;
                continue;
            }
            if (!resumedBy.containsKey(issuer)) {
                return Outcome.pass("ticket from worker " + issuer + " resumed on worker " + resumedBy.keySet()
                        .iterator().next() + (earlyData ? ", " + early + " request(s) in 0-RTT" : "")
                        + (attempt > 1 ? " (attempt " + attempt + ")" : "")
                        + (tolerated == null ? "" : "; one connection failed: " + tolerated));
            }
        }
        return Outcome.fail("every one of " + ATTEMPTS + " resumed connections landed on the issuing worker "
                + issuer + (tolerated == null ? "" : "; " + tolerated));
    }

    private static String attempt(Attempt attempt) {
        try {
            return attempt.run();
        } catch (Exception e) {
            return e.getClass().getSimpleName() + ": " + e.getMessage();
        }
    }
}
