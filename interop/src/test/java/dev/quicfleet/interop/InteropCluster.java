package dev.quicfleet.interop;

import dev.quicfleet.supervisor.SupervisorProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The servers under test: a 2-worker cluster (the packaged supervisor, real worker JVMs, connection-ID steering,
 * shared ticket keys) and, for the retry case, a second one that sends a Retry on every new connection. Its metrics
 * are the server-side oracle: handshakes (and which worker resumed a ticket), early-data requests, Retry packets,
 * Version Negotiation packets.
 */
final class InteropCluster implements AutoCloseable {

    private static final Pattern WORKER = Pattern.compile("worker=\"([^\"]*)\"");

    private final Path dir;
    private final SupervisorProcess main;
    private SupervisorProcess retry;

    private InteropCluster(Path dir, SupervisorProcess main) {
        this.dir = dir;
        this.main = main;
    }

    static InteropCluster start(Path dir) throws Exception {
        return new InteropCluster(dir, startOne(dir.resolve("cluster")));
    }

    private static SupervisorProcess startOne(Path dir, String... extra) throws Exception {
        Files.createDirectories(dir);
        String[] args = {"--workers", "2", "--metrics-address", "127.0.0.1:0"};
        String[] all = new String[args.length + extra.length];
        System.arraycopy(args, 0, all, 0, args.length);
        System.arraycopy(extra, 0, all, args.length, extra.length);
        return SupervisorProcess.start(dir, all);
    }

    int port() {
        return main.port();
    }

    SupervisorProcess main() {
        return main;
    }

    /** The cluster with {@code --retry always}, started on first use. */
    SupervisorProcess retry() throws Exception {
        if (retry == null) {
            retry = startOne(dir.resolve("retry-cluster"), "--retry", "always");
        }
        return retry;
    }

    /** One scrape of {@code cluster}'s metrics, every sample by its name and labels. */
    static Metrics metrics(SupervisorProcess cluster) throws Exception {
        Map<String, Double> samples = new HashMap<>();
        for (String line : cluster.scrape().lines().toList()) {
            if (!line.isEmpty() && !line.startsWith("#")) {
                int space = line.lastIndexOf(' ');
                samples.put(line.substring(0, space), Double.parseDouble(line.substring(space + 1)));
            }
        }
        return new Metrics(samples);
    }

    /** A scrape, to compare with a later one. */
    record Metrics(Map<String, Double> samples) {

        /** How much the samples of {@code family} with every one of {@code labels} grew since {@code before}. */
        long since(Metrics before, String family, String... labels) {
            return Math.round(sum(family, labels) - before.sum(family, labels));
        }

        /** {@link #since} per worker label value (only workers whose count grew). */
        Map<String, Long> byWorkerSince(Metrics before, String family, String... labels) {
            Map<String, Long> grown = new HashMap<>();
            samples.forEach((key, value) -> {
                if (matches(key, family, labels)) {
                    long delta = Math.round(value - before.samples.getOrDefault(key, 0.0));
                    Matcher m = WORKER.matcher(key);
                    if (delta > 0 && m.find()) {
                        grown.merge(m.group(1), delta, Long::sum);
                    }
                }
            });
            return grown;
        }

        private double sum(String family, String... labels) {
            return samples.entrySet().stream().filter(e -> matches(e.getKey(), family, labels))
                    .mapToDouble(Map.Entry::getValue).sum();
        }

        private static boolean matches(String key, String family, String... labels) {
            if (!(key.equals(family) || key.startsWith(family + "{"))) {
                return false;
            }
            for (String label : labels) {
                if (!key.contains(label)) {
                    return false;
                }
            }
            return true;
        }
    }

    static final String HANDSHAKES = "quicfleet_quic_handshakes_total";
    static final String SUCCESS = "result=\"success\"";
    static final String RESUMED = "resumed=\"true\"";
    static final String FULL = "resumed=\"false\"";

    @Override
    public void close() {
        main.close();
        if (retry != null) {
            retry.close();
        }
    }
}
