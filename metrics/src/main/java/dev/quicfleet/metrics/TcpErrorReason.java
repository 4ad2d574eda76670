package dev.quicfleet.metrics;

/**
 * How a TCP connection ended in an error its peer caused: the values of the {@value MeterNames#REASON} tag of
 * {@value MeterNames#TCP_CONNECTION_ERRORS}. Each connection is counted once, by its first error.
 */
public enum TcpErrorReason {
    /** The peer reset the connection ({@code ECONNRESET}). */
    RESET("reset"),
    /** A write found the connection closed by the peer ({@code EPIPE}). */
    BROKEN_PIPE("broken_pipe"),
    /** The TLS handshake failed or the peer sent bytes that are not TLS. */
    TLS("tls"),
    /**
     * Refused for the PROXY protocol: a header from an address not in {@code --proxy-protocol-from}, none (or a
     * malformed one) from an address in it.
     */
    PROXY_PROTOCOL("proxy_protocol"),
    /** Any other I/O or protocol error on the connection. */
    OTHER("other");

    private final String tagValue;

    TcpErrorReason(String tagValue) {
        this.tagValue = tagValue;
    }

    /** The tag value: {@code reset}, {@code broken_pipe}, {@code tls}, {@code proxy_protocol} or
     * {@code other}. */
    public String tagValue() {
        return tagValue;
    }
}
