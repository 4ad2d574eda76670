package dev.quicfleet.ticketcache;

import java.security.SecureRandom;
import java.util.Collection;
import java.util.List;
import java.util.NavigableMap;
import java.util.TreeMap;

/**
 * Random keys for one host without a cluster secret: each epoch gets fresh keys from {@link SecureRandom} the first
 * time it is asked for, and the same keys afterwards. Only the supervisor uses this; workers read the keys it
 * publishes, so all workers of the host agree.
 *
 * <p>Seeding with the keys found in the shared map when the supervisor restarts keeps tickets issued before the
 * restart valid. Only the newest {@link Rotation#MAX_EPOCHS} epochs are remembered. Thread-safe.
 */
public final class RandomKeys implements KeySource {

    private final SecureRandom random;
    private final NavigableMap<Long, EpochKeys> byEpoch = new TreeMap<>();

    /** Fresh keys for every epoch. */
    public RandomKeys() {
        this(List.of());
    }

    /** Reuses {@code known} (typically {@link KeySchedule#epochs()} found in the shared map) for their epochs. */
    public RandomKeys(Collection<EpochKeys> known) {
        this.random = new SecureRandom();
        for (EpochKeys keys : known) {
            byEpoch.put(keys.epoch(), keys);
        }
        forgetOld();
    }

    @Override
    public synchronized EpochKeys keys(long epoch) {
        EpochKeys keys = byEpoch.computeIfAbsent(epoch, e -> new EpochKeys(e, bytes(TicketKey.LENGTH),
                bytes(EpochKeys.MAC_KEY_LENGTH), bytes(EpochKeys.MAC_KEY_LENGTH)));
        forgetOld();
        return keys;
    }

    @Override
    public String toString() {
        return "RandomKeys";
    }

    private void forgetOld() {
        if (!byEpoch.isEmpty()) {
            byEpoch.headMap(byEpoch.lastKey() - Rotation.MAX_EPOCHS, true).clear();
        }
    }

    private byte[] bytes(int length) {
        byte[] bytes = new byte[length];
        random.nextBytes(bytes);
        return bytes;
    }
}
