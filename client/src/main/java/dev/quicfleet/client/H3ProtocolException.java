package dev.quicfleet.client;

/**
 * The peer broke HTTP/3 or QUIC rules: a malformed or unexpected frame, a response without {@code :status}, a connection closed with a protocol error.
 */
public class H3ProtocolException extends H3Exception {

    private static final long serialVersionUID = 1L;

    /** A failure with a one-line {@code message}. */
    public H3ProtocolException(String message) {
        super(message);
    }

    /** A failure with a one-line {@code message} and the exception underneath. */
    public H3ProtocolException(String message, Throwable cause) {
        super(message, cause);
    }

    @Override
    public String kind() {
        return "protocol";
    }
}
