package dev.quicfleet.metrics;

/**
 * Why an upstream was taken out of its pool: the values of the {@value MeterNames#REASON} tag of
 * {@value MeterNames#UPSTREAM_EJECTIONS}.
 */
public enum UpstreamEjection {
    /** Consecutive connect failures ({@code --upstream-max-fails}). */
    CONNECT_FAILURE("connect_failure"),
    /** Consecutive 5xx responses ({@code --upstream-max-5xx}). */
    RESPONSE_5XX("5xx"),
    /** The active health check failed ({@code --upstream-health-path}). */
    HEALTH_CHECK("health_check");

    private final String tagValue;

    UpstreamEjection(String tagValue) {
        this.tagValue = tagValue;
    }

    /** The tag value, such as {@code 5xx}. */
    public String tagValue() {
        return tagValue;
    }
}
