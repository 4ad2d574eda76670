package dev.quicfleet.client;

import java.io.IOException;

/**
 * Base of everything the HTTP/3 client reports as a failure. Every subclass carries a one-line message that names
 * the peer and what went wrong, fit to print as is ({@code error: <message>}); the cause, when there is one, is the
 * underlying Netty or JDK exception for debugging.
 *
 * <ul>
 *   <li>{@link H3ConnectException}: no QUIC connection could be set up (nothing listening, unreachable, refused).</li>
 *   <li>{@link H3TlsException}: the TLS handshake failed (untrusted certificate, wrong host name, no common
 *       protocol).</li>
 *   <li>{@link H3TimeoutException}: a handshake, response or body did not arrive in time.</li>
 *   <li>{@link H3StreamResetException}: the server reset the request stream, or closed the connection under it.</li>
 *   <li>{@link H3ProtocolException}: the peer broke HTTP/3 or QUIC rules (bad frames, missing status).</li>
 * </ul>
 */
public class H3Exception extends IOException {

    private static final long serialVersionUID = 1L;

    /** A failure with a one-line {@code message}. */
    public H3Exception(String message) {
        super(message);
    }

    /** A failure with a one-line {@code message} and the exception underneath. */
    public H3Exception(String message, Throwable cause) {
        super(message, cause);
    }

    /** A short, stable name of the kind of failure ({@code connect}, {@code tls}, ...), used in h3load's counts. */
    public String kind() {
        return "other";
    }
}
