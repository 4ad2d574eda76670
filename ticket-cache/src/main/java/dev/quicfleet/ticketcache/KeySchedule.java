package dev.quicfleet.ticketcache;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The keys of every epoch that matters at one moment, with the {@link Rotation} that gives them meaning: what the
 * supervisor publishes in the shared map and each worker keeps on its heap. It spans the oldest epoch whose ticket key
 * may still decrypt an unexpired ticket up to the next epoch (published one period ahead).
 *
 * <p>Workers derive what they need at their own clock's {@code now}: {@link #ticketKeyRing(Instant)} for
 * {@code setTicketKeys}, {@link #epochKeys(Instant)} for tokens and stateless resets. Because the schedule already
 * holds the next epoch, a worker switches to the next key on time even if the supervisor publishes late.
 *
 * <p>Immutable. Serialized compactly ({@link #encode()}, about 120 bytes per epoch) with a leading format byte.
 */
public final class KeySchedule {

    /** The serialization format {@link #encode()} writes; {@link #decode} refuses others. */
    static final byte FORMAT = 1;

    private static final int EPOCH_BYTES = Long.BYTES + TicketKey.LENGTH + 2 * EpochKeys.MAC_KEY_LENGTH;

    private final Rotation rotation;
    private final List<EpochKeys> epochs;

    KeySchedule(Rotation rotation, List<EpochKeys> epochs) {
        this.rotation = Objects.requireNonNull(rotation, "rotation");
        List<EpochKeys> sorted = new ArrayList<>(epochs);
        sorted.sort(Comparator.comparingLong(EpochKeys::epoch));
        for (int i = 1; i < sorted.size(); i++) {
            if (sorted.get(i).epoch() == sorted.get(i - 1).epoch()) {
                throw new IllegalArgumentException("epochs: " + sorted.get(i).epoch() + " twice");
            }
        }
        if (sorted.isEmpty() || sorted.size() > Rotation.MAX_EPOCHS) {
            throw new IllegalArgumentException("epochs: " + sorted.size() + " (expected: 1.." + Rotation.MAX_EPOCHS
                    + ")");
        }
        this.epochs = List.copyOf(sorted);
    }

    /**
     * The schedule at {@code now}: the keys of every epoch from {@link Rotation#oldestDecryptingEpoch} to the one
     * after the current epoch, from {@code source}.
     */
    public static KeySchedule at(Instant now, Rotation rotation, KeySource source) {
        long current = rotation.epoch(now);
        List<EpochKeys> keys = new ArrayList<>();
        for (long epoch = rotation.oldestDecryptingEpoch(now); epoch <= current + 1; epoch++) {
            keys.add(source.keys(epoch));
        }
        return new KeySchedule(rotation, keys);
    }

    /** The rotation the keys were scheduled with. */
    public Rotation rotation() {
        return rotation;
    }

    /** The keys of every epoch in the schedule, oldest first. */
    public List<EpochKeys> epochs() {
        return epochs;
    }

    /**
     * The ticket keys to install at {@code now}; empty when every key has expired, which happens only when nobody
     * published a schedule for longer than the ticket lifetime (then resumption must be off, not served with a
     * retired key).
     */
    public Optional<TicketKeyRing> ticketKeyRing(Instant now) {
        List<TicketKey> keys = new ArrayList<>(epochs.size());
        for (EpochKeys epoch : epochs) {
            TicketKey key = epoch.ticketKey(rotation);
            if (key.decryptsAt(now)) {
                keys.add(key);
            }
        }
        return keys.isEmpty() ? Optional.empty() : Optional.of(TicketKeyRing.at(now, keys));
    }

    /**
     * The keys of the epoch {@code now} falls in, then of the next and the previous epoch (those the schedule holds):
     * write tokens and reset tokens with the first, accept tokens made with any of them, so hosts whose clocks differ
     * by less than a period accept each other's tokens. Empty if the schedule does not cover {@code now}.
     */
    public List<EpochKeys> epochKeys(Instant now) {
        long current = rotation.epoch(now);
        List<EpochKeys> keys = new ArrayList<>(3);
        for (long epoch : new long[] {current, current + 1, current - 1}) {
            epoch(epoch).ifPresent(keys::add);
        }
        if (keys.isEmpty() || keys.getFirst().epoch() != current) {
            return List.of();
        }
        return List.copyOf(keys);
    }

    /** The keys of {@code epoch}, if the schedule holds it. */
    public Optional<EpochKeys> epoch(long epoch) {
        for (EpochKeys keys : epochs) {
            if (keys.epoch() == epoch) {
                return Optional.of(keys);
            }
        }
        return Optional.empty();
    }

    /** The compact binary form stored in the shared map. */
    byte[] encode() {
        ByteBuffer out = ByteBuffer.allocate(1 + 2 * Long.BYTES + Integer.BYTES + epochs.size() * EPOCH_BYTES);
        out.put(FORMAT).putLong(rotation.period().toMillis()).putLong(rotation.lifetime().toMillis())
                .putInt(epochs.size());
        for (EpochKeys keys : epochs) {
            out.putLong(keys.epoch()).put(keys.ticketKey()).put(keys.tokenKey()).put(keys.resetKey());
        }
        return out.array();
    }

    /**
     * The schedule {@link #encode()} wrote.
     *
     * @throws IllegalArgumentException if {@code bytes} is of another format or malformed
     */
    static KeySchedule decode(byte[] bytes) {
        try {
            ByteBuffer in = ByteBuffer.wrap(bytes);
            byte format = in.get();
            if (format != FORMAT) {
                throw new IllegalArgumentException("key schedule format " + format + " (expected: " + FORMAT + ")");
            }
            Rotation rotation = new Rotation(Duration.ofMillis(in.getLong()), Duration.ofMillis(in.getLong()));
            int count = in.getInt();
            if (count < 1 || count > Rotation.MAX_EPOCHS || in.remaining() != count * EPOCH_BYTES) {
                throw new IllegalArgumentException("key schedule: " + count + " epochs in " + bytes.length
                        + " bytes (expected: 1.." + Rotation.MAX_EPOCHS + " epochs of " + EPOCH_BYTES + " bytes)");
            }
            List<EpochKeys> epochs = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                long epoch = in.getLong();
                epochs.add(new EpochKeys(epoch, bytes(in, TicketKey.LENGTH), bytes(in, EpochKeys.MAC_KEY_LENGTH),
                        bytes(in, EpochKeys.MAC_KEY_LENGTH)));
            }
            return new KeySchedule(rotation, epochs);
        } catch (BufferUnderflowException e) {
            throw new IllegalArgumentException("key schedule: truncated at " + bytes.length + " bytes", e);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof KeySchedule other && rotation.equals(other.rotation) && epochs.equals(other.epochs);
    }

    @Override
    public int hashCode() {
        return Objects.hash(rotation, epochs);
    }

    /** The rotation and the epoch range, never key bytes. */
    @Override
    public String toString() {
        return "KeySchedule[" + rotation + ", epochs " + epochs.getFirst().epoch() + ".." + epochs.getLast().epoch()
               + "]";
    }

    private static byte[] bytes(ByteBuffer in, int length) {
        byte[] bytes = new byte[length];
        in.get(bytes);
        return bytes;
    }
}
