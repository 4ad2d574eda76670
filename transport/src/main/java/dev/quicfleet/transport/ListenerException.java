package dev.quicfleet.transport;

/** A listening socket could not be bound or adopted; the message names the address and the likely fix. */
public final class ListenerException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    ListenerException(String message, Throwable cause) {
        super(message, cause);
    }
}
