package dev.quicfleet.ticketcache;

import java.nio.file.Path;
import java.util.Locale;

/**
 * Why the owner replaced a generation of the shared map with a new one. Bounded: the values are metric tags.
 */
public enum MapDamage {
    /** The file shrank: touching the missing pages of the mapping would raise SIGBUS. */
    TRUNCATED,
    /** The file's magic or Chronicle header changed: someone wrote into it. */
    OVERWRITTEN,
    /** The file, the pointer naming it, or the whole directory was removed: new processes could not open it. */
    DELETED,
    /** Another file (or pointer) took its place. */
    REPLACED,
    /** A lock stayed taken for {@link SharedSecretsConfig#wedgedAfter()}: a process died holding it. */
    WEDGED;

    /** The metric tag value, e.g. {@code truncated}. */
    public String tagValue() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * What was found, in words for the one log line that reports it.
     *
     * @param kind    the kind of damage
     * @param file    the file (or pointer) concerned
     * @param details e.g. "it was truncated from 69206016 to 0 bytes"
     */
    public record Found(MapDamage kind, Path file, String details) {
        @Override
        public String toString() {
            return file + ": " + details;
        }
    }
}
