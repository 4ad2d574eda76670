package dev.quicfleet.transport;

/** Thrown when a transport was asked for by name but does not work here; the message names the alternatives. */
public final class TransportUnavailableException extends IllegalStateException {

    private static final long serialVersionUID = 1L;

    TransportUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
