package dev.quicfleet.ticketcache;

/**
 * What one {@link SharedSecretsOwner#sweep} did.
 *
 * @param removed       expired replay records removed
 * @param retained      live replay records left (the register's size, for a gauge)
 * @param newGeneration whether a wedged segment made the owner move everyone to a new generation
 */
public record SweepResult(long removed, long retained, boolean newGeneration) {
}
