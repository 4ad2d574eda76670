package dev.quicfleet.metrics;

/** What a worker did with a request that arrived in 0-RTT early data: the values of the {@value MeterNames#OUTCOME} tag. */
public enum EarlyDataOutcome {
    /** Ran at once: the policy allowed it and its first flight was seen for the first time. */
    ACCEPTED("accepted"),
    /** Held until the client confirmed the handshake (a method the policy does not run early, or no verdict). */
    DEFERRED("deferred"),
    /** An early-data handshake whose client random the replay register had already seen (counted per handshake). */
    REPLAYED("replayed"),
    /** Answered with 425 Too Early (RFC 8470) under {@code --early-data 425}: the client retries after the handshake. */
    TOO_EARLY("too_early");

    private final String tagValue;

    EarlyDataOutcome(String tagValue) {
        this.tagValue = tagValue;
    }

    /** The tag value: {@code accepted}, {@code deferred}, {@code replayed} or {@code too_early}. */
    public String tagValue() {
        return tagValue;
    }
}
