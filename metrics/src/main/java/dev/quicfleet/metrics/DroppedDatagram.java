package dev.quicfleet.metrics;

/** Why a worker dropped a UDP datagram: the values of the {@value MeterNames#REASON} tag. */
public enum DroppedDatagram {
    /** Received, and the QUIC codec could not parse it (garbage, a truncated or inconsistent header). */
    MALFORMED("malformed"),
    /** Received: the Initial of a new connection while the worker drains (refused before any TLS work). */
    DRAINING("draining"),
    /** To be sent: beyond 3x the bytes received from an address not yet validated (RFC 9000 §8.1). */
    AMPLIFICATION("amplification");

    private final String tagValue;

    DroppedDatagram(String tagValue) {
        this.tagValue = tagValue;
    }

    /** The tag value: {@code malformed}, {@code draining} or {@code amplification}. */
    public String tagValue() {
        return tagValue;
    }
}
