package dev.quicfleet.client;

/**
 * The request stream was reset by the server (RESET_STREAM or STOP_SENDING with an HTTP/3 error code), or the connection closed while the exchange was in flight.
 */
public class H3StreamResetException extends H3Exception {

    private static final long serialVersionUID = 1L;

    private final long errorCode;

    /** A reset with the peer's application error code ({@code -1} when unknown). */
    public H3StreamResetException(String message, long errorCode) {
        super(message);
        this.errorCode = errorCode;
    }

    /** A reset with the peer's application error code ({@code -1} when unknown) and the exception underneath. */
    public H3StreamResetException(String message, long errorCode, Throwable cause) {
        super(message, cause);
        this.errorCode = errorCode;
    }

    /** The HTTP/3 application error code the peer sent (e.g. {@code 0x10c} H3_REQUEST_CANCELLED), or -1. */
    public long errorCode() {
        return errorCode;
    }

    @Override
    public String kind() {
        return "stream-reset";
    }
}
