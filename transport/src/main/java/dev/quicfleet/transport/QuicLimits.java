package dev.quicfleet.transport;

import io.netty.handler.codec.quic.QuicChannelOption;
import io.netty.handler.codec.quic.QuicServerCodecBuilder;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The limits a worker advertises to QUIC clients (RFC 9000 transport parameters) and applies to its UDP sockets.
 * Every one is explicit so an operator can see what a connection may cost; the defaults suit an edge server with
 * browsers and API clients on the other side.
 *
 * @param idleTimeout     a connection with no packets for this long is closed silently (RFC 9000 §10.1); default 30s
 * @param maxStreams      concurrent client-initiated bidirectional streams (= concurrent requests) per connection;
 *                        default 256
 * @param maxData         connection-wide receive window: bytes the client may send before we read them; default 16 MiB
 * @param maxStreamData   per-stream receive window (request bodies); default 1 MiB
 * @param maxUdpPayload   largest UDP payload we send or accept; with {@code pmtuDiscovery} the most we probe for;
 *                        1452 fills a 1500-byte Ethernet MTU over IPv6 (1452 + 8 UDP + 40 IP); QUIC requires at
 *                        least 1200; default 1452
 * @param pmtuDiscovery   DPLPMTUD (RFC 8899, quiche's optimistic binary search): each connection sends 1,200-byte
 *                        packets until a padded probe of {@code maxUdpPayload} bytes is acknowledged, then that size
 *                        (or searches down between 1,200 and the lost probe's size); off, every packet may be
 *                        {@code maxUdpPayload} bytes from the start, which a path with a smaller MTU silently drops;
 *                        default on (as Caddy and quic-go do)
 * @param gsoSegments     packets of one connection handed to the kernel in one UDP GSO send (1 = no GSO); default 16
 * @param udpSocketBuffer SO_RCVBUF/SO_SNDBUF of the UDP socket (the kernel caps it at net.core.[rw]mem_max);
 *                        default 4 MiB, so bursts of packets from many clients are not dropped
 * @param handshakeTimeout a connection whose handshake has not completed this long after its first packet is closed
 *                        and counted as a failed handshake ({@code reason="timeout"}); without it a client that
 *                        never finishes (or a forged Initial) holds 40-60 KB in the worker; default 10s, like the TCP
 *                        TLS handshake
 */
public record QuicLimits(Duration idleTimeout, long maxStreams, long maxData, long maxStreamData, int maxUdpPayload,
                         int gsoSegments, int udpSocketBuffer, Duration handshakeTimeout, boolean pmtuDiscovery) {

    /** The default of {@link #maxUdpPayload()}. */
    public static final int DEFAULT_MAX_UDP_PAYLOAD = 1452;

    /** The default of {@link #handshakeTimeout()}. */
    public static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);

    /** HTTP/3 needs three unidirectional streams per side (control, QPACK encoder, QPACK decoder); allow a few more. */
    static final long MAX_UNI_STREAMS = 16;
    /** Control and QPACK streams carry small frames only. */
    static final long MAX_UNI_STREAM_DATA = 64 * 1024;

    /** The defaults listed on the record. */
    public static QuicLimits defaults() {
        return new QuicLimits(Duration.ofSeconds(30), 256, 16L << 20, 1L << 20, DEFAULT_MAX_UDP_PAYLOAD, 16, 4 << 20,
                DEFAULT_HANDSHAKE_TIMEOUT, true);
    }

    /** These limits with the default {@link #handshakeTimeout()} and path MTU discovery on. */
    public QuicLimits(Duration idleTimeout, long maxStreams, long maxData, long maxStreamData, int maxUdpPayload,
                      int gsoSegments, int udpSocketBuffer) {
        this(idleTimeout, maxStreams, maxData, maxStreamData, maxUdpPayload, gsoSegments, udpSocketBuffer,
                DEFAULT_HANDSHAKE_TIMEOUT, true);
    }

    /** These limits with another {@link #handshakeTimeout()}. */
    public QuicLimits withHandshakeTimeout(Duration timeout) {
        return new QuicLimits(idleTimeout, maxStreams, maxData, maxStreamData, maxUdpPayload, gsoSegments,
                udpSocketBuffer, timeout, pmtuDiscovery);
    }

    /** These limits with path MTU discovery on or off. */
    public QuicLimits withPmtuDiscovery(boolean on) {
        return new QuicLimits(idleTimeout, maxStreams, maxData, maxStreamData, maxUdpPayload, gsoSegments,
                udpSocketBuffer, handshakeTimeout, on);
    }

    /** Validates every limit; messages name the limit, the value and the accepted range. */
    public QuicLimits {
        if (idleTimeout == null || idleTimeout.compareTo(Duration.ofSeconds(1)) < 0
                || idleTimeout.compareTo(Duration.ofMinutes(10)) > 0) {
            throw new IllegalArgumentException("quic-idle-timeout: " + idleTimeout + " (expected: 1s..10m)");
        }
        if (handshakeTimeout == null || handshakeTimeout.compareTo(Duration.ofMillis(100)) < 0
                || handshakeTimeout.compareTo(Duration.ofMinutes(5)) > 0) {
            throw new IllegalArgumentException("handshake-timeout: " + (handshakeTimeout == null ? null
                    : ConfigValues.format(handshakeTimeout)) + " (expected: a duration of 100ms..5m, like 10s)");
        }
        checkRange("quic-max-streams", maxStreams, 1, 100_000);
        checkRange("quic-max-data", maxData, 64 * 1024, 1L << 30);
        checkRange("quic-max-stream-data", maxStreamData, 16 * 1024, maxData);
        checkRange("quic-max-udp-payload", maxUdpPayload, 1200, 65527);
        checkRange("quic-gso-segments", gsoSegments, 1, 64);
        checkRange("udp-socket-buffer", udpSocketBuffer, 64 * 1024, 256 << 20);
    }

    /**
     * Applies these limits (and the transport's GSO support) to a QUIC server codec builder. Active migration stays
     * off until connection IDs route packets to the right worker.
     */
    public QuicServerCodecBuilder applyTo(QuicServerCodecBuilder builder, Transport transport) {
        return builder
                .maxIdleTimeout(idleTimeout.toMillis(), TimeUnit.MILLISECONDS)
                .initialMaxData(maxData)
                .initialMaxStreamDataBidirectionalRemote(maxStreamData)
                .initialMaxStreamDataBidirectionalLocal(maxStreamData)
                .initialMaxStreamDataUnidirectional(Math.min(maxStreamData, MAX_UNI_STREAM_DATA))
                .initialMaxStreamsBidirectional(maxStreams)
                .initialMaxStreamsUnidirectional(MAX_UNI_STREAMS)
                .maxRecvUdpPayloadSize(maxUdpPayload)
                .maxSendUdpPayloadSize(maxUdpPayload)
                .discoverPmtu(pmtuDiscovery)
                // Clients may move to a new address (RFC 9000 §9): their packets name the connection's slot, so the
                // kernel steers them to its worker; quiche validates the new path (PATH_CHALLENGE/RESPONSE).
                .activeMigration(true)
                .option(QuicChannelOption.SEGMENTED_DATAGRAM_PACKET_ALLOCATOR, transport.gsoAllocator(gsoSegments));
    }

    private static void checkRange(String name, long value, long min, long max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(name + ": " + value + " (expected: " + min + ".." + max + ")");
        }
    }
}
