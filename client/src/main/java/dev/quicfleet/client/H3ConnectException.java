package dev.quicfleet.client;

/**
 * No QUIC connection could be set up with the peer: nothing listening on its UDP port (ICMP port unreachable), the host cannot be resolved or reached, or the peer closed the connection during the handshake.
 */
public class H3ConnectException extends H3Exception {

    private static final long serialVersionUID = 1L;

    /** A failure with a one-line {@code message}. */
    public H3ConnectException(String message) {
        super(message);
    }

    /** A failure with a one-line {@code message} and the exception underneath. */
    public H3ConnectException(String message, Throwable cause) {
        super(message, cause);
    }

    @Override
    public String kind() {
        return "connect";
    }
}
