package dev.quicfleet.metrics;

/**
 * Why a proxied exchange failed, like Envoy's response flags: the values of the {@value MeterNames#REASON} tag of
 * {@value MeterNames#UPSTREAM_FAILURES}, and the first word of the access log's {@code failure} field. Each failed
 * exchange is counted once, by the failure that ended it.
 */
public enum UpstreamFailure {
    /** The upstream refused or failed the connection (after the retry on another upstream): 502. */
    CONNECT_FAILURE("connect_failure", 502),
    /** The upstream did not accept a connection within the connect timeout: 504. */
    CONNECT_TIMEOUT("connect_timeout", 504),
    /** Every upstream of the pool is ejected: 503. */
    NO_HEALTHY_UPSTREAM("no_healthy_upstream", 503),
    /** No response byte within the response timeout of the request's end: 504 (a reset stream once committed). */
    RESPONSE_TIMEOUT("response_timeout", 504),
    /** A pause longer than the idle timeout while the upstream read the request or sent the response: 504. */
    IDLE_TIMEOUT("idle_timeout", 504),
    /** The upstream closed or reset the connection before the response was complete: 502 or a reset stream. */
    UPSTREAM_RESET("upstream_reset", 502),
    /** The upstream sent something that is not a valid HTTP/1.1 response: 502 or a reset stream. */
    BAD_RESPONSE("bad_response", 502),
    /** The client went away (or its request body failed) before the exchange ended: no response. */
    CLIENT_GONE("client_gone", 0);

    private final String tagValue;
    private final int status;

    UpstreamFailure(String tagValue, int status) {
        this.tagValue = tagValue;
        this.status = status;
    }

    /** The tag value, such as {@code connect_failure}. */
    public String tagValue() {
        return tagValue;
    }

    /** The status the client gets when the response has not started; 0 when nobody is left to answer. */
    public int status() {
        return status;
    }
}
