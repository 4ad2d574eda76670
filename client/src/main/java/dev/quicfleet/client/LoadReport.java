package dev.quicfleet.client;

import java.util.Locale;
import java.util.Map;
import org.HdrHistogram.Histogram;

/**
 * What an h3load run measured; serialized as is for {@code --json}.
 *
 * @param url                      the URL requested
 * @param connections              concurrent connections
 * @param streams                  concurrent requests per connection
 * @param newConnectionPerRequest  whether each request had a connection of its own
 * @param resume                   whether sessions were resumed
 * @param earlyData                whether 0-RTT was enabled
 * @param priming                  what the priming connection (with --resume) got, or null
 * @param seconds                  wall time of the run
 * @param finished                 false if the run was cut off waiting for stragglers
 * @param requests                 request counts and rate
 * @param goAways                  connections on which the server sent GOAWAY (h3load then moved to new ones)
 * @param handshakes               handshake counts and rate, resumed and 0-RTT shares
 * @param latencyMs                request latency, send to last body byte
 * @param handshakeLatencyMs       connection open to handshake done
 * @param statusCodes              responses by status code
 * @param errors                   failed requests by kind ({@link H3Exception#kind()})
 * @param firstErrors              the first message of each error kind
 * @param cpu                      the generator's own CPU use (for a hold run: over the opening and the hold)
 * @param packets                  QUIC packet counts of the connections open at the end of the run, or null (runs
 *                                 with a connection per request, hold runs)
 * @param hold                     what a hold run ({@code --hold}) held, or null; then {@code seconds} and the rates
 *                                 are those of the opening phase
 */
public record LoadReport(String url, int connections, int streams, boolean newConnectionPerRequest, boolean resume,
                         boolean earlyData, String priming, double seconds, boolean finished, Requests requests,
                         long goAways, Handshakes handshakes, Latency latencyMs, Latency handshakeLatencyMs,
                         Map<String, Long> statusCodes, Map<String, Long> errors, Map<String, String> firstErrors,
                         Cpu cpu, Packets packets, Hold hold) {

    /**
     * Request counts. {@code perSecond} counts responses (any status); {@code retried} counts the times a request
     * was sent again on a new connection because a GOAWAY refused it (not processed by the server, so not failed).
     */
    public record Requests(long started, long done, long failed, long retried, double perSecond, long bodyBytes) {
    }

    /** Completed handshakes; {@code earlyDataPercent} is the share whose 0-RTT data was accepted. */
    public record Handshakes(long total, double perSecond, long resumed, double resumedPercent, long earlyDataSent,
                             long earlyDataAccepted, double earlyDataPercent) {
    }

    /** Latency percentiles in milliseconds. */
    public record Latency(long count, double min, double p50, double p90, double p99, double max, double mean) {
        static Latency of(Histogram h) {
            if (h.getTotalCount() == 0) {
                return new Latency(0, 0, 0, 0, 0, 0, 0);
            }
            return new Latency(h.getTotalCount(), ms(h.getMinValue()), ms(h.getValueAtPercentile(50)),
                    ms(h.getValueAtPercentile(90)), ms(h.getValueAtPercentile(99)), ms(h.getMaxValue()),
                    Math.round(h.getMean()) / 1000.0);
        }

        private static double ms(long micros) {
            return micros / 1000.0;
        }
    }

    /**
     * The generator's CPU: {@code percentOfOneCore} above ~90 × cores means the generator, not the server, may be
     * the limit.
     */
    public record Cpu(double seconds, double percentOfOneCore, int cores) {
    }

    /**
     * QUIC packets of the {@code connections} open at the end, from quiche's counters: what the client received
     * ({@code bytesReceived} in UDP payloads, so {@code bytesPerReceived} is the server's average packet size) and
     * sent (mostly acknowledgements in a download: see {@code --ack-every}); {@code lost} are the client's packets
     * quiche declared lost.
     */
    public record Packets(int connections, long received, long bytesReceived, double bytesPerReceived, long sent,
                          long lost) {
    }

    /**
     * A hold run: {@code connections} answered their request and were then held open for {@code holdSeconds}, after
     * {@code openSeconds} to open them all; {@code lost} of them closed during the hold (server idle timeout, ...).
     * {@code keepAliveSeconds} is the keep-alive interval, 0 when none was sent; {@code lostReasons} counts the lost
     * connections by the message they closed with (at most 10 different messages).
     */
    public record Hold(int connections, double openSeconds, double holdSeconds, double keepAliveSeconds, int lost,
                       Map<String, Long> lostReasons) {
    }

    /** Total failed requests. */
    public long errorsTotal() {
        return requests.failed();
    }

    /** Connections that closed while a hold run held them (0 for other runs). */
    public int lostWhileHeld() {
        return hold == null ? 0 : hold.lost();
    }

    /** Responses received. */
    public long requestsDone() {
        return requests.done();
    }

    /** The human-readable report. */
    public String text() {
        StringBuilder b = new StringBuilder();
        if (hold != null) {
            b.append(String.format(Locale.ROOT, "opened %d connections in %.2fs, %s/s, then held them for %.1fs%n",
                    hold.connections(), seconds, H3LoadMain.rate(requests.perSecond()), hold.holdSeconds()));
        } else {
            b.append(String.format(Locale.ROOT, "finished in %.2fs, %s req/s%s%n", seconds,
                    H3LoadMain.rate(requests.perSecond()), finished ? "" : " (cut off: some requests never ended)"));
        }
        b.append(String.format(Locale.ROOT, "requests: %d started, %d done, %d failed, %d body bytes%n",
                requests.started(), requests.done(), requests.failed(), requests.bodyBytes()));
        if (goAways > 0 || requests.retried() > 0) {
            b.append(String.format(Locale.ROOT, "goaway: %d connections got GOAWAY and were replaced; %d requests "
                    + "refused by it were sent again on a new connection%n", goAways, requests.retried()));
        }
        b.append("status codes:");
        if (statusCodes.isEmpty()) {
            b.append(" none");
        }
        statusCodes.forEach((k, v) -> b.append(' ').append(k).append(" × ").append(v));
        b.append('\n');
        b.append(String.format(Locale.ROOT, "handshakes: %d, %s/s, resumed %.1f%%, 0-RTT accepted %.1f%% "
                        + "(sent on %d)%n", handshakes.total(), H3LoadMain.rate(handshakes.perSecond()),
                handshakes.resumedPercent(), handshakes.earlyDataPercent(), handshakes.earlyDataSent()));
        if (priming != null) {
            b.append("priming: ").append(priming).append('\n');
        }
        if (hold != null) {
            b.append(String.format(Locale.ROOT, "held: %d connections for %.1fs (opened in %.2fs), keep-alive %s, "
                            + "%d lost while held%n", hold.connections(), hold.holdSeconds(), hold.openSeconds(),
                    hold.keepAliveSeconds() > 0 ? String.format(Locale.ROOT, "every %.1fs", hold.keepAliveSeconds())
                            : "off", hold.lost()));
            hold.lostReasons().forEach((k, v) -> b.append("  lost ").append(v).append(" × ").append(k).append('\n'));
        }
        if (packets != null) {
            b.append(String.format(Locale.ROOT, "packets: %d received (%.0f bytes each on average), %d sent, %d "
                            + "lost, on the %d connection(s) open at the end%n", packets.received(),
                    packets.bytesPerReceived(), packets.sent(), packets.lost(), packets.connections()));
        }
        b.append(line("latency", latencyMs));
        b.append(line("handshake", handshakeLatencyMs));
        b.append("errors:");
        if (errors.isEmpty()) {
            b.append(" none");
        }
        errors.forEach((k, v) -> b.append(' ').append(k).append(" × ").append(v));
        b.append('\n');
        firstErrors.forEach((k, v) -> b.append("  first ").append(k).append(": ").append(v).append('\n'));
        b.append(String.format(Locale.ROOT, "h3load cpu: %.2fs, %.0f%% of one core (%d cores)%s%n", cpu.seconds(),
                cpu.percentOfOneCore(), cpu.cores(), cpu.percentOfOneCore() > 90.0 * cpu.cores()
                        ? " -- the generator is saturated; the numbers measure it, not only the server" : ""));
        return b.toString();
    }

    private static String line(String name, Latency l) {
        return String.format(Locale.ROOT, "%-9s ms: p50 %.2f, p90 %.2f, p99 %.2f, max %.2f (min %.2f, mean %.2f, "
                + "n %d)%n", name, l.p50(), l.p90(), l.p99(), l.max(), l.min(), l.mean(), l.count());
    }
}
