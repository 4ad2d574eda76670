package dev.quicfleet.worker.protocol.quic;

import dev.quicfleet.metrics.DroppedDatagram;
import dev.quicfleet.metrics.WorkerMetrics;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Catches what the QUIC codec raises for a datagram it cannot parse or decrypt, at the end of the UDP channel's
 * pipeline and of every QUIC connection's pipeline. A garbage datagram shaped like an Initial creates a connection in
 * the codec, and quiche's error ({@code QUICHE_ERR_INVALID_PACKET}, or {@code QUICHE_ERR_CRYPTO_FAIL} wrapped in an
 * {@code SSLException}) is fired on <em>that connection's</em> pipeline, one per datagram. Without this handler each
 * reached the tail of a pipeline as a WARN with a 32-line stack trace, so a peer wrote the log: 10,000 garbage
 * datagrams gave 24.6 MB in 4 s.
 *
 * <p>Each is counted ({@code quicfleet_quic_datagrams_dropped_total{reason="malformed"}}) and logged at most once per
 * {@link #LOG_INTERVAL_SECONDS} per kind (the exception class and message with numbers taken out, a bounded set), with
 * the number seen since the last line and no stack trace: nothing here is the server's to fix. The stack trace is at
 * DEBUG for whoever debugs the codec.
 */
@ChannelHandler.Sharable
public final class MalformedDatagrams extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(MalformedDatagrams.class);
    static final long LOG_INTERVAL_SECONDS = 60;
    /** Kinds remembered for rate limiting; beyond it everything counts as one "other" kind. */
    private static final int MAX_KINDS = 64;

    private final WorkerMetrics metrics;
    private final LongSupplier nanoClock;
    private final Map<String, Kind> kinds = new HashMap<>();

    public MalformedDatagrams(WorkerMetrics metrics, LongSupplier nanoClock) {
        this.metrics = metrics;
        this.nanoClock = nanoClock;
    }

    @Override
    public synchronized void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        metrics.datagramDropped(DroppedDatagram.MALFORMED);
        String key = kindOf(cause);
        Kind kind = kinds.get(key);
        if (kind == null) {
            if (kinds.size() >= MAX_KINDS) {
                key = "other";
                kind = kinds.computeIfAbsent(key, k -> new Kind());
            } else {
                kind = new Kind();
                kinds.put(key, kind);
            }
        }
        kind.since++;
        long now = nanoClock.getAsLong();
        if (kind.lastLogNanos == 0) {
            log.warn("dropped a malformed QUIC datagram: {} (peer input, not a server fault; counted in "
                    + "quicfleet_quic_datagrams_dropped_total{reason=\"malformed\"}; more of this kind are logged at "
                    + "most once per {}s, with their number)", key, LOG_INTERVAL_SECONDS);
            kind.lastLogNanos = now == 0 ? 1 : now;
            kind.since = 0;
        } else if (now - kind.lastLogNanos >= TimeUnit.SECONDS.toNanos(LOG_INTERVAL_SECONDS)) {
            log.warn("dropped {} more malformed QUIC datagram(s) in the last {}s: {}", kind.since,
                    TimeUnit.NANOSECONDS.toSeconds(now - kind.lastLogNanos), key);
            kind.lastLogNanos = now == 0 ? 1 : now;
            kind.since = 0;
        }
        if (log.isDebugEnabled()) {
            log.debug("malformed datagram on the QUIC codec", cause);
        }
    }

    /** The exception's class and message with digits blanked: messages carry lengths and offsets. */
    static String kindOf(Throwable cause) {
        String message = cause.getMessage();
        String text = cause.getClass().getSimpleName() + (message == null ? "" : ": " + message);
        if (text.length() > 200) {
            text = text.substring(0, 200);
        }
        return text.replaceAll("[0-9]+", "N");
    }

    private static final class Kind {
        long lastLogNanos;
        long since;
    }
}
