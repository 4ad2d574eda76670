package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A datagram of a QUIC version the worker does not speak gets a Version Negotiation packet listing v1 (RFC 9000 §6):
 * a QUIC v2 Initial (RFC 9369), whose type bits Netty does not read as an Initial, and any other version, but only
 * for datagrams of at least 1,200 bytes, and never more often than the rate limit allows.
 */
class VersionNegotiationIT {

    @RegisterExtension
    static RunningWorker worker = new RunningWorker();

    private static final int QUIC_V2 = 0x6b3343cf;
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    @Test
    void aQuicV2InitialGetsVersionNegotiationListingV1() throws Exception {
        try (DatagramSocket client = new DatagramSocket(new InetSocketAddress(LOOPBACK, 0))) {
            byte[] dcid = {1, 2, 3, 4, 5, 6, 7, 8};
            byte[] scid = {9, 10, 11, 12, 13};
            // v2 numbers Initial 0b01, the v1 bits of 0-RTT (RFC 9369 §3.2)
            send(client, longHeader(0xd0, QUIC_V2, dcid, scid, 1200));
            ByteBuffer answer = ByteBuffer.wrap(receive(client, 3000));
            assertThat(answer.get() & 0x80).as("long header").isNotZero();
            assertThat(answer.getInt()).as("version 0: Version Negotiation").isZero();
            assertThat(readId(answer)).as("destination: the client's source id").isEqualTo(scid);
            assertThat(readId(answer)).as("source: the client's destination id").isEqualTo(dcid);
            List<Integer> versions = new ArrayList<>();
            while (answer.remaining() >= 4) {
                versions.add(answer.getInt());
            }
            assertThat(versions).containsExactly(1);
        }
    }

    @Test
    void anyUnknownVersionIsAnsweredButOnlyForFullSizedDatagrams() throws Exception {
        try (DatagramSocket client = new DatagramSocket(new InetSocketAddress(LOOPBACK, 0))) {
            byte[] id = {7, 7, 7, 7, 7, 7, 7, 7};
            send(client, longHeader(0xc0, 0x1a2a3a4a, id, id, 1199));
            assertThat(receiveOrNull(client, 1000)).as("no answer to a datagram under 1,200 bytes").isNull();
            send(client, longHeader(0xc0, 0x1a2a3a4a, id, id, 1200));
            assertThat(receiveOrNull(client, 3000)).as("an answer to a full-sized datagram").isNotNull();
        }
    }

    /**
     * 60 full-sized v2 datagrams from one address in a burst: the per-address bucket answers its burst of 10 and then
     * 5 a second, so at most 10 + 5 × (the seconds the burst and the reading took) answers come back.
     */
    @Test
    void answersToOneAddressAreRateLimited() throws Exception {
        // an address of its own, so the other tests' answers have not used its bucket
        try (DatagramSocket client = new DatagramSocket(new InetSocketAddress(InetAddress.getByName("127.0.0.23"),
                0))) {
            client.setReceiveBufferSize(1 << 20);
            byte[] id = {3, 3, 3, 3, 3, 3, 3, 3};
            long start = System.nanoTime();
            for (int i = 0; i < 60; i++) {
                send(client, longHeader(0xd0, QUIC_V2, id, id, 1200));
            }
            int answers = 0;
            while (receiveOrNull(client, 1000) != null) {
                answers++;
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            assertThat(answers).as("answers within %.1f s", seconds).isGreaterThanOrEqualTo(10)
                    .isLessThanOrEqualTo(10 + (int) Math.ceil(5 * seconds));
        }
    }

    private static byte[] longHeader(int first, int version, byte[] dcid, byte[] scid, int size) {
        ByteBuffer out = ByteBuffer.allocate(size);
        out.put((byte) first).putInt(version);
        out.put((byte) dcid.length).put(dcid);
        out.put((byte) scid.length).put(scid);
        return out.array(); // the rest: zero padding, as a client pads its first datagram
    }

    private static byte[] readId(ByteBuffer in) {
        byte[] id = new byte[in.get() & 0xff];
        in.get(id);
        return id;
    }

    private static void send(DatagramSocket client, byte[] datagram) throws Exception {
        client.send(new DatagramPacket(datagram, datagram.length, LOOPBACK, worker.port()));
    }

    private static byte[] receive(DatagramSocket client, int timeoutMillis) throws Exception {
        byte[] answer = receiveOrNull(client, timeoutMillis);
        assertThat(answer).as("an answer within %d ms", timeoutMillis).isNotNull();
        return answer;
    }

    private static byte[] receiveOrNull(DatagramSocket client, int timeoutMillis) throws Exception {
        client.setSoTimeout(timeoutMillis);
        byte[] buffer = new byte[2048];
        DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
        try {
            client.receive(packet);
        } catch (SocketTimeoutException e) {
            return null;
        }
        return Arrays.copyOf(packet.getData(), packet.getLength());
    }
}
