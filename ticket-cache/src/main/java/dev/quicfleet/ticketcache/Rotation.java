package dev.quicfleet.ticketcache;

import java.time.Duration;
import java.time.Instant;
import java.util.Objects;

/**
 * When ticket keys change and how long they stay valid. Time is cut into <em>epochs</em> of one rotation
 * {@code period} counted from the Unix epoch ({@code epoch = floor(now / period)}), so every host with the same
 * period and a correct clock agrees on the epoch number without talking to the others. The key of epoch {@code e}
 * encrypts during {@code [e * period, (e + 1) * period)} and decrypts until the last ticket it encrypted expires,
 * {@code (e + 1) * period + lifetime}; a ticket is therefore accepted for at least {@code lifetime} and at most
 * {@code lifetime + period}. The key of epoch {@code e + 1} is published during epoch {@code e} (one period ahead).
 *
 * @param period   {@code --ticket-key-rotation}: how often a new key starts encrypting; default 1h
 * @param lifetime {@code --ticket-lifetime}: how long a ticket is accepted at least; default 12h
 */
public record Rotation(Duration period, Duration lifetime) {

    /** The most epochs a ring may hold, so that the published key set stays small (a few kilobytes). */
    public static final int MAX_EPOCHS = 64;

    private static final Duration MIN_PERIOD = Duration.ofSeconds(1);

    /** 1h rotation, 12h ticket lifetime. */
    public static final Rotation DEFAULT = new Rotation(Duration.ofHours(1), Duration.ofHours(12));

    /** Validates both durations and their ratio. */
    public Rotation {
        Objects.requireNonNull(period, "ticket-key-rotation");
        Objects.requireNonNull(lifetime, "ticket-lifetime");
        if (period.compareTo(MIN_PERIOD) < 0 || period.toNanosPart() % 1_000_000 != 0) {
            throw new IllegalArgumentException("ticket-key-rotation: " + period
                    + " (expected: at least 1s, in whole milliseconds)");
        }
        if (lifetime.compareTo(MIN_PERIOD) < 0 || lifetime.toNanosPart() % 1_000_000 != 0) {
            throw new IllegalArgumentException("ticket-lifetime: " + lifetime
                    + " (expected: at least 1s, in whole milliseconds)");
        }
        Duration max = Duration.ofMillis(Long.MAX_VALUE); // what toMillis() holds (SupervisorOptionsFuzzTest)
        if (period.compareTo(max) > 0 || lifetime.compareTo(max) > 0) {
            throw new IllegalArgumentException((period.compareTo(max) > 0 ? "ticket-key-rotation: " + period
                    : "ticket-lifetime: " + lifetime) + " (expected: less than 292 million years)");
        }
        if (retainedEpochs(period, lifetime) + 2 > MAX_EPOCHS) {
            throw new IllegalArgumentException("ticket-lifetime: " + lifetime + " is more than "
                    + (MAX_EPOCHS - 2) + " times ticket-key-rotation " + period
                    + " (expected: a longer rotation period or a shorter lifetime)");
        }
    }

    /** The epoch {@code instant} falls in. */
    public long epoch(Instant instant) {
        return Math.floorDiv(instant.toEpochMilli(), period.toMillis());
    }

    /** When the key of {@code epoch} starts encrypting. */
    public Instant start(long epoch) {
        return Instant.ofEpochMilli(Math.multiplyExact(epoch, period.toMillis()));
    }

    /** When the key of {@code epoch} stops decrypting: the end of its encrypting period plus the ticket lifetime. */
    public Instant decryptsUntil(long epoch) {
        return start(epoch + 1).plus(lifetime);
    }

    /** The oldest epoch whose key may still decrypt an unexpired ticket at {@code now}. */
    public long oldestDecryptingEpoch(Instant now) {
        return epoch(now) - retainedEpochs(period, lifetime);
    }

    /** The ticket key of {@code epoch} made from its 48 bytes, with this rotation's validity. */
    TicketKey ticketKey(long epoch, byte[] material) {
        return TicketKey.of(material, start(epoch), decryptsUntil(epoch));
    }

    /**
     * How many epochs before the current one still decrypt: the key of {@code current - k} decrypts until
     * {@code start(current - k + 1) + lifetime}, which is after {@code now} for every {@code k <= ceil(lifetime /
     * period)}.
     */
    private static long retainedEpochs(Duration period, Duration lifetime) {
        long p = period.toMillis();
        return Math.ceilDiv(lifetime.toMillis(), p);
    }
}
