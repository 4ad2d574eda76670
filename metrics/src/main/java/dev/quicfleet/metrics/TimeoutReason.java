package dev.quicfleet.metrics;

/**
 * Which limit a slow client ran into: the values of the {@value MeterNames#REASON} tag of
 * {@value MeterNames#HTTP_TIMEOUTS}.
 */
public enum TimeoutReason {
    /** The request head (request line and header fields) did not arrive within the header timeout. */
    HEADER("header"),
    /** The request body stalled (no byte for the body timeout) while the server was reading it. */
    BODY("body"),
    /** The request body arrived slower than the minimum body rate. */
    BODY_RATE("body_rate"),
    /** The client did not read the response (no send progress) for the body timeout. */
    SEND("send");

    private final String tagValue;

    TimeoutReason(String tagValue) {
        this.tagValue = tagValue;
    }

    /** The tag value: {@code header}, {@code body}, {@code body_rate} or {@code send}. */
    public String tagValue() {
        return tagValue;
    }
}
