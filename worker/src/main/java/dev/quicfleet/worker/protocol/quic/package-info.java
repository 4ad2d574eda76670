/**
 * QUIC and HTTP/3: the connection initializer and per-connection state ({@code QuicConnections}), request streams
 * ({@code Http3RequestStreamHandler}, {@code Http3Exchange}), 0-RTT admission ({@code EarlyData}), and the handlers
 * that sit before Netty's QUIC codec on the UDP socket: malformed datagrams, Version Negotiation, packets for
 * connections this worker does not know (stateless resets, the reload hand-over to the other worker of the slot) and
 * NAT rebinding.
 */
package dev.quicfleet.worker.protocol.quic;
