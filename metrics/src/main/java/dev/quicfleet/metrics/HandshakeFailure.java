package dev.quicfleet.metrics;

/** Why a QUIC handshake failed: the values of the {@value MeterNames#REASON} tag of failed handshakes. */
public enum HandshakeFailure {
    /** Not completed within the worker's handshake deadline ({@code --handshake-timeout}): the worker closed it. */
    TIMEOUT("timeout"),
    /** Closed before it completed: a TLS alert, a CONNECTION_CLOSE from the client, quiche's idle timeout. */
    CLOSED("closed");

    private final String tagValue;

    HandshakeFailure(String tagValue) {
        this.tagValue = tagValue;
    }

    /** The tag value: {@code timeout} or {@code closed}. */
    public String tagValue() {
        return tagValue;
    }
}
