package dev.quicfleet.metrics;

/** What a worker did with a request that arrived in 0-RTT early data: the values of the {@value MeterNames#OUTCOME} tag. */
public enum EarlyDataOutcome {
    /** Served before the handshake completed (a safe method). */
    ACCEPTED("accepted"),
    /** Held until the handshake completed, or answered 425 Too Early (an unsafe method). */
    DEFERRED("deferred"),
    /** Refused because the shared replay register had already seen its client random. */
    REPLAYED("replayed");

    private final String tagValue;

    EarlyDataOutcome(String tagValue) {
        this.tagValue = tagValue;
    }

    /** The tag value: {@code accepted}, {@code deferred} or {@code replayed}. */
    public String tagValue() {
        return tagValue;
    }
}
