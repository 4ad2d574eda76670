package dev.quicfleet.client;

import java.time.Duration;

/**
 * A snapshot of one QUIC connection's transport counters, from quiche ({@code QuicChannel.collectStats()} and the
 * active path's {@code collectPathStats(0)}).
 *
 * @param rtt            smoothed round-trip time of the active path
 * @param cwnd           congestion window, bytes
 * @param packetsSent    QUIC packets sent
 * @param packetsReceived QUIC packets received
 * @param packetsLost    QUIC packets declared lost
 * @param packetsRetransmitted packets retransmitted
 * @param bytesSent      bytes sent in UDP payloads
 * @param bytesReceived  bytes received in UDP payloads
 * @param pmtu           the path MTU quiche uses, bytes
 */
public record ConnectionStats(Duration rtt, long cwnd, long packetsSent, long packetsReceived, long packetsLost,
                              long packetsRetransmitted, long bytesSent, long bytesReceived, long pmtu) {
}
