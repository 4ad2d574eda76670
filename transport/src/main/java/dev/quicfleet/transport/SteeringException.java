package dev.quicfleet.transport;

/**
 * The kernel refused the connection-ID steering program, or the transport (NIO) cannot attach one; the message names
 * the socket, the reason and the way out.
 */
public final class SteeringException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    SteeringException(String message, Throwable cause) {
        super(message, cause);
    }
}
