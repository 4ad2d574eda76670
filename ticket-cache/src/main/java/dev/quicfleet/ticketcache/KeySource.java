package dev.quicfleet.ticketcache;

/**
 * Where the keys of an epoch come from: derived from a {@link ClusterSecret} (every host agrees) or
 * {@link RandomKeys} (one host; the supervisor publishes them to its workers through {@link SharedSecretsOwner}).
 */
public sealed interface KeySource permits ClusterSecret, RandomKeys {

    /** The keys of {@code epoch}; asking twice for the same epoch gives equal keys. */
    EpochKeys keys(long epoch);
}
