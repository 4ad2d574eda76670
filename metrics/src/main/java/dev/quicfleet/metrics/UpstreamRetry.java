package dev.quicfleet.metrics;

/**
 * Why a proxied request was sent again: the values of the {@value MeterNames#REASON} tag of
 * {@value MeterNames#UPSTREAM_RETRIES}.
 */
public enum UpstreamRetry {
    /** The connect failed: tried on another upstream (nothing had been sent). */
    CONNECT_FAILURE("connect_failure"),
    /** A kept-alive connection closed as the request went out: an idempotent request sent on a fresh one. */
    STALE_CONNECTION("stale_connection"),
    /** A new connection closed before the response (the upstream died, say): an idempotent request sent to another. */
    UPSTREAM_RESET("upstream_reset"),
    /** The upstream answered 425 Too Early to a 0-RTT request: sent again once the handshake completed. */
    TOO_EARLY("too_early");

    private final String tagValue;

    UpstreamRetry(String tagValue) {
        this.tagValue = tagValue;
    }

    /** The tag value, such as {@code connect_failure}. */
    public String tagValue() {
        return tagValue;
    }
}
