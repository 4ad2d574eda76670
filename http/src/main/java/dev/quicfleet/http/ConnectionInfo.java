package dev.quicfleet.http;

import java.net.InetSocketAddress;

/**
 * What is known about the connection an exchange arrived on.
 *
 * @param protocol  the HTTP version
 * @param remote    the peer's address (for QUIC: the address of the path the request arrived on)
 * @param local     the local address the connection was accepted on
 * @param tlsResumed whether the TLS session was resumed from a ticket ({@code null} when the TLS engine cannot tell)
 * @param earlyData  whether this request arrived as TLS 1.3 early data (0-RTT), before the handshake completed
 */
public record ConnectionInfo(Protocol protocol, InetSocketAddress remote, InetSocketAddress local,
                             Boolean tlsResumed, boolean earlyData) {
}
