package dev.quicfleet.ticketcache;

/**
 * The verdict of the 0-RTT replay register on one early-data handshake. Only {@link #FIRST_USE} lets early requests
 * run before the handshake completes; every other verdict fails closed (the requests wait for the handshake, which a
 * replayed first flight can never complete).
 */
public enum ReplayCheck {

    /** This process recorded the client random first: early requests may run. */
    FIRST_USE,

    /** The client random was recorded before and has not expired: a replay. */
    REPLAYED,

    /** The shared map could not be reached within the bounded wait (busy, wedged, or not open). */
    UNAVAILABLE,

    /** The register holds as many entries as it was sized for; raise its capacity. */
    FULL;

    /** Whether early requests may run before the handshake completes. */
    public boolean firstUse() {
        return this == FIRST_USE;
    }
}
