package dev.quicfleet.client;

/**
 * Something did not happen in time: the QUIC handshake (connect timeout), the response (request timeout), or the connection went idle.
 */
public class H3TimeoutException extends H3Exception {

    private static final long serialVersionUID = 1L;

    /** A failure with a one-line {@code message}. */
    public H3TimeoutException(String message) {
        super(message);
    }

    /** A failure with a one-line {@code message} and the exception underneath. */
    public H3TimeoutException(String message, Throwable cause) {
        super(message, cause);
    }

    @Override
    public String kind() {
        return "timeout";
    }
}
