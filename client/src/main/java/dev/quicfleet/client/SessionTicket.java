package dev.quicfleet.client;

import java.util.Objects;

/**
 * A TLS session ticket a server issued, with what is needed to resume with it (and send 0-RTT early data when the
 * server allowed it): the QUIC transport parameters the server announced travel inside {@code session}.
 *
 * @param host          the server name the session belongs to (the URL's host)
 * @param port          the server's UDP port
 * @param session       opaque bytes: the serialized TLS session and the server's transport parameters, in the
 *                      encoding quiche uses; secret material, handle like a key
 * @param createdMillis when the session was created (epoch milliseconds)
 * @param timeoutMillis how long after {@code createdMillis} the server accepts it (the ticket lifetime)
 */
public record SessionTicket(String host, int port, byte[] session, long createdMillis, long timeoutMillis) {

    /** Validates the fields. */
    public SessionTicket {
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(session, "session");
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port: " + port + " (expected: 1..65535)");
        }
        if (session.length == 0) {
            throw new IllegalArgumentException("session: empty");
        }
    }

    /** Whether the ticket's lifetime has passed at {@code nowMillis}. */
    public boolean isExpired(long nowMillis) {
        return nowMillis > createdMillis + timeoutMillis;
    }

    @Override
    public String toString() {
        // never the session bytes
        return "SessionTicket[" + host + ":" + port + ", " + session.length + " bytes, created " + createdMillis
                + ", lifetime " + timeoutMillis / 1000 + "s]";
    }
}
