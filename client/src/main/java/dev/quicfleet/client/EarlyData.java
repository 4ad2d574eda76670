package dev.quicfleet.client;

/** What happened to TLS 1.3 early data (0-RTT) on a connection. */
public enum EarlyData {
    /** The client was not asked to send early data. */
    OFF,
    /**
     * Early data was enabled but not sent: no stored session for this server, or the server's ticket does not allow
     * 0-RTT, or no request was ready before the handshake finished.
     */
    NOT_SENT,
    /** Requests went out as 0-RTT and the server accepted them. */
    ACCEPTED,
    /**
     * Requests went out as 0-RTT and the server refused them; the client sent them again after the handshake
     * (QUIC retransmits the stream data in 1-RTT packets), so they still got answers, one round trip later.
     */
    REJECTED;

    /** Whether requests went out before the handshake finished. */
    public boolean sent() {
        return this == ACCEPTED || this == REJECTED;
    }
}
