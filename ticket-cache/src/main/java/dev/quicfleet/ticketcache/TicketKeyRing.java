package dev.quicfleet.ticketcache;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;

/**
 * The ticket keys a TLS context should hold at one moment: one key that encrypts new tickets and every key that may
 * still decrypt a ticket that has not expired, including the next key, published one rotation period before it starts
 * encrypting so that a host whose clock runs ahead can already use it.
 *
 * <p>{@link #decryptingKeys()} is in the order {@code QuicSslSessionContext.setTicketKeys(...)} expects: the encrypting
 * key first, then the next key, then older keys newest first. Immutable; two rings are equal when they hold the same
 * keys in the same order, so a worker can compare the ring it applied with a fresh one and call {@code setTicketKeys}
 * only on a change.
 */
public final class TicketKeyRing {

    private static final Comparator<TicketKey> NEWEST_FIRST =
            Comparator.comparing(TicketKey::notBefore).reversed();

    private final List<TicketKey> keys;

    private TicketKeyRing(List<TicketKey> keys) {
        this.keys = List.copyOf(keys);
    }

    /**
     * The ring at {@code now} made of {@code candidates}: keys whose {@code notAfter} has passed are dropped; the
     * encrypting key is the newest one whose {@code notBefore} has been reached (or, if all lie in the future, the
     * oldest of them, so that a host never runs without an encrypting key).
     *
     * @throws IllegalArgumentException if no candidate decrypts at {@code now}
     */
    public static TicketKeyRing at(Instant now, Collection<TicketKey> candidates) {
        Objects.requireNonNull(now, "now");
        List<TicketKey> live = new ArrayList<>();
        for (TicketKey key : candidates) {
            if (key.decryptsAt(now)) {
                live.add(key);
            }
        }
        if (live.isEmpty()) {
            throw new IllegalArgumentException("ticket keys: none of " + candidates.size() + " decrypts at " + now
                    + " (expected: at least one key with notAfter after now)");
        }
        live.sort(NEWEST_FIRST);
        TicketKey encrypting = live.stream().filter(key -> !key.notBefore().isAfter(now)).findFirst()
                .orElse(live.getLast());
        List<TicketKey> ordered = new ArrayList<>(live.size());
        ordered.add(encrypting);
        for (TicketKey key : live) {
            if (key != encrypting) {
                ordered.add(key);
            }
        }
        return new TicketKeyRing(ordered);
    }

    /** The key that encrypts new tickets. */
    public TicketKey encryptingKey() {
        return keys.getFirst();
    }

    /**
     * Every key that may decrypt a ticket, the encrypting key first: the argument for
     * {@code setTicketKeys(...)}, whose first key encrypts and whose other keys only decrypt.
     */
    public List<TicketKey> decryptingKeys() {
        return keys;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TicketKeyRing other && keys.equals(other.keys);
    }

    @Override
    public int hashCode() {
        return keys.hashCode();
    }

    /** Key names and validity only, never key bytes. */
    @Override
    public String toString() {
        return "TicketKeyRing" + keys.stream().map(TicketKey::nameHex).toList() + " encrypting "
               + encryptingKey().nameHex();
    }
}
