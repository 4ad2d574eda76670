package dev.quicfleet.client;

/**
 * The TLS handshake failed: the server's certificate is not trusted or does not name the host, or client and server share no protocol (ALPN h3).
 */
public class H3TlsException extends H3Exception {

    private static final long serialVersionUID = 1L;

    /** A failure with a one-line {@code message}. */
    public H3TlsException(String message) {
        super(message);
    }

    /** A failure with a one-line {@code message} and the exception underneath. */
    public H3TlsException(String message, Throwable cause) {
        super(message, cause);
    }

    @Override
    public String kind() {
        return "tls";
    }
}
