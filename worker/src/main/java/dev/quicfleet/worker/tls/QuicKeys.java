package dev.quicfleet.worker.tls;

import dev.quicfleet.ticketcache.EpochKeys;
import dev.quicfleet.ticketcache.KeySchedule;
import dev.quicfleet.ticketcache.RandomKeys;
import dev.quicfleet.ticketcache.Rotation;
import dev.quicfleet.transport.ConnectionIds;
import dev.quicfleet.transport.RetryTokens;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The QUIC secrets of the current rotation epochs as this worker knows them: the Retry token keys, the stateless-reset
 * keys, and the config rotation codepoint its connection IDs carry (the epoch mod 7, docs/CONNECTION-IDS.md), which
 * names the reset key a connection ID's token was made with.
 *
 * <p>Under a supervisor the keys are the cluster's ({@link #update}, from the shared map), so every worker — and every
 * host sharing a cluster secret — makes and accepts the same tokens. Until the map is open (a second or so after
 * start) there are no keys: no Retry is sent, reset tokens are random (a reset can then never match, which is safe),
 * and no reset is sent. A worker running alone makes its own random keys ({@link #local}).
 *
 * <p>Thread-safe: the schedule is replaced whole; readers take it once per call.
 */
public final class QuicKeys {

    /**
     * How close to the next epoch a codepoint shared by the next epoch and one seven periods back means the next one:
     * another host whose clock runs ahead may already issue connection IDs of the next epoch.
     */
    static final Duration CLOCK_SKEW = Duration.ofSeconds(30);

    private final Clock clock;
    private final RandomKeys localSource;
    private volatile KeySchedule schedule;

    private QuicKeys(Clock clock, RandomKeys localSource) {
        this.clock = clock;
        this.localSource = localSource;
        if (localSource != null) {
            schedule = KeySchedule.at(clock.instant(), Rotation.DEFAULT, localSource);
        }
    }

    /** Keys of this process only, random, rotated with the default period. */
    public static QuicKeys local(Clock clock) {
        return new QuicKeys(clock, new RandomKeys());
    }

    /** Keys that arrive later through {@link #update}: the cluster's. */
    public static QuicKeys shared(Clock clock) {
        return new QuicKeys(clock, null);
    }

    /** Uses {@code next} from now on (the schedule the supervisor published). */
    public void update(KeySchedule next) {
        schedule = next;
    }

    /** Whether keys are known (a shared worker has none until the map is open). */
    public boolean available() {
        // Local keys are made on demand (current() renews them), so they are always there. Asked for every
        // short-header packet (UnknownConnections): computing the epoch keys here read the clock and built a list each
        // time, half a microsecond a packet.
        return localSource != null || schedule != null;
    }

    /** Retry token keys at this moment, the writing key first (see {@link KeySchedule#epochKeys}). */
    public List<RetryTokens.TokenKey> tokenKeys() {
        KeySchedule keys = current();
        if (keys == null) {
            return List.of();
        }
        List<EpochKeys> epochs = keys.epochKeys(clock.instant());
        List<RetryTokens.TokenKey> tokenKeys = new ArrayList<>(epochs.size());
        for (EpochKeys epoch : epochs) {
            tokenKeys.add(new RetryTokens.TokenKey((int) (epoch.epoch() & 0xFF), epoch.tokenKey()));
        }
        return tokenKeys;
    }

    /**
     * The config rotation codepoint for connection IDs issued now: the current epoch mod 7; 0 while no keys are known
     * (their reset tokens are random then).
     */
    public int rotation() {
        KeySchedule keys = current();
        return keys == null ? 0 : ConnectionIds.rotationOf(keys.rotation().epoch(clock.instant()));
    }

    /**
     * The reset key of connection IDs carrying codepoint {@code rotation}: the newest epoch up to the current one with
     * that codepoint — or the next epoch, if it has it and begins within {@link #CLOCK_SKEW} — else {@code null}.
     */
    public byte[] resetKey(int rotation) {
        KeySchedule keys = current();
        if (keys == null) {
            return null;
        }
        Instant now = clock.instant();
        long current = keys.rotation().epoch(now);
        long next = current + 1;
        boolean nextIsNear = keys.rotation().start(next).minus(CLOCK_SKEW).isBefore(now);
        List<EpochKeys> epochs = keys.epochs();
        for (int i = epochs.size() - 1; i >= 0; i--) {
            EpochKeys epoch = epochs.get(i);
            if (epoch.epoch() > next || epoch.epoch() == next && !nextIsNear) {
                continue;
            }
            if (ConnectionIds.rotationOf(epoch.epoch()) == rotation) {
                return epoch.resetKey();
            }
        }
        return null;
    }

    private KeySchedule current() {
        KeySchedule keys = schedule;
        if (localSource != null && (keys == null || keys.epochKeys(clock.instant()).isEmpty())) {
            synchronized (this) {
                keys = schedule;
                if (keys.epochKeys(clock.instant()).isEmpty()) {
                    keys = KeySchedule.at(clock.instant(), Rotation.DEFAULT, localSource);
                    schedule = keys;
                }
            }
        }
        return keys;
    }
}
