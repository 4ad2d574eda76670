package dev.quicfleet.worker.protocol.quic;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.quicfleet.metrics.WorkerMetrics;
import dev.quicfleet.transport.ConnectionIds;
import dev.quicfleet.transport.ResetRateLimiter;
import dev.quicfleet.transport.StatelessResets;
import dev.quicfleet.worker.TestCertificates;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.DatagramPacket;
import io.netty.handler.codec.http3.Http3;
import io.netty.handler.codec.quic.InsecureQuicTokenHandler;
import io.netty.handler.codec.quic.QuicSslContext;
import io.netty.handler.codec.quic.QuicSslContextBuilder;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.security.KeyPair;
import java.time.Instant;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * Fuzzes the header parsing of {@link UnknownConnections}, the handler ahead of the QUIC codec that reads the
 * destination connection ID of every datagram any peer sends, and answers packets for connections this slot lost with
 * a stateless reset. Contract, for any datagram: no exception out of the pipeline; the datagram is either passed on
 * unchanged (same bytes, indices, one reference) or released; a reset goes only to a short-header packet whose DCID
 * this host issued for this worker's slot, back to its sender, shorter than the packet (RFC 9000 §10.3: no loops, no
 * amplification), at least 21 bytes, short-header form, ending in the token of that DCID. The hand-over path
 * (reload) is not fuzzed: it needs a second worker. See docs/FUZZING.md.
 */
class UnknownConnectionsFuzzTest {

    private static final int SLOT = 3;
    private static final byte[] RESET_KEY = new byte[32];
    private static final InetSocketAddress SERVER = new InetSocketAddress("127.0.0.1", 4433);
    private static final ChannelHandler CODEC = codec();
    private static final WorkerMetrics METRICS = new WorkerMetrics(SLOT, "nio");

    static {
        Arrays.fill(RESET_KEY, (byte) 0x5a);
    }

    @FuzzTest(maxDuration = "10s")
    void answersOnlyPacketsForItsOwnLostConnections(FuzzedDataProvider data) {
        ConnectionIds ids = ConnectionIds.of(data.consumeBytes(data.consumeInt(0, 2)), 20);
        boolean mayReset = data.consumeBoolean();
        int senderPort = data.consumeInt(1, 65535);
        boolean ourLayout = data.consumeBoolean();
        int slot = data.consumeBoolean() ? SLOT : data.consumeInt(0, 255);
        int rotation = data.consumeInt(0, 6);
        byte[] datagram = data.consumeRemainingAsBytes();
        if (ourLayout && datagram.length > ids.length()) {
            // Steer half the inputs to IDs of the cluster's layout, which random bytes rarely hit.
            byte[] nonce = Arrays.copyOfRange(datagram, 1 + ids.slotOffset() + 1, 1 + ids.length());
            System.arraycopy(ids.encode(rotation, slot, nonce), 0, datagram, 1, ids.length());
        }
        check(ids, mayReset, senderPort, datagram);
    }

    /** The target's assertions hold for a packet that gets a reset, one that is passed on, and one too short. */
    @Test
    void resetsOnlyAShortHeaderPacketOfThisSlotThatIsLongerThanTheReset() {
        ConnectionIds ids = ConnectionIds.of(new byte[] {7}, 20);
        byte[] packet = new byte[60];
        packet[0] = 0x41;
        System.arraycopy(ids.encode(0, SLOT, new byte[ids.nonceLength()]), 0, packet, 1, ids.length());
        assertThat(check(ids, true, 5000, packet)).isTrue();
        assertThat(check(ids, false, 5000, packet)).isFalse();
        packet[0] = (byte) 0xc1;
        assertThat(check(ids, true, 5000, packet)).isFalse();
        packet[0] = 0x41;
        System.arraycopy(ids.encode(0, SLOT + 1, new byte[ids.nonceLength()]), 0, packet, 1, ids.length());
        assertThat(check(ids, true, 5000, packet)).isFalse();
    }

    /** Sends {@code datagram} through the handler and checks the contract; whether a reset was sent. */
    private static boolean check(ConnectionIds ids, boolean mayReset, int senderPort, byte[] datagram) {
        StatelessResets resets = new StatelessResets(ids, rotation -> rotation == 6 ? null : RESET_KEY);
        EmbeddedChannel channel = new EmbeddedChannel(new UnknownConnections(ids, SLOT, resets,
                ResetRateLimiter.defaults(), METRICS, CODEC, () -> mayReset, null, () -> false));

        InetSocketAddress sender = new InetSocketAddress("127.0.0.2", senderPort);
        ByteBuf content = Unpooled.wrappedBuffer(datagram);
        DatagramPacket packet = new DatagramPacket(content, SERVER, sender);
        channel.writeInbound(packet); // rethrows what the handler threw
        DatagramPacket passed = channel.readInbound();
        DatagramPacket reset = channel.readOutbound();
        assertThat(channel.finish()).isFalse();

        ByteBuffer dcid = datagram.length > ids.length() ? ByteBuffer.wrap(datagram, 1, ids.length()) : null;
        boolean forThisSlot = dcid != null && (datagram[0] & 0x80) == 0 && ids.isIssuedByThisHost(dcid)
                              && ids.slot(dcid) == SLOT;
        if (passed != null) {
            assertThat(passed).isSameAs(packet);
            assertThat(content.refCnt()).isEqualTo(1);
            assertThat(content.readerIndex()).isZero();
            assertThat(content.writerIndex()).isEqualTo(datagram.length);
            assertThat(reset).isNull();
            assertThat(forThisSlot && mayReset && resets.respondTo(ByteBuffer.wrap(datagram)) != null)
                    .as("a packet of a connection this slot lost, that may be reset, is answered").isFalse();
            content.release();
            return false;
        }
        assertThat(content.refCnt()).as("a datagram not passed on is released").isZero();
        assertThat(forThisSlot && mayReset).as("only packets of this slot's lost connections are taken").isTrue();
        if (reset == null) {
            return false;
        }
        byte[] bytes = new byte[reset.content().readableBytes()];
        reset.content().getBytes(reset.content().readerIndex(), bytes);
        reset.release();
        assertThat(reset.recipient()).isEqualTo(sender);
        assertThat(bytes.length).isGreaterThanOrEqualTo(StatelessResets.MIN_PACKET_LENGTH)
                .isLessThan(datagram.length);
        assertThat(bytes[0] & 0xC0).as("short-header form").isEqualTo(0x40);
        assertThat(Arrays.copyOfRange(bytes, bytes.length - StatelessResets.TOKEN_LENGTH, bytes.length))
                .isEqualTo(StatelessResets.token(RESET_KEY, dcid));
        return true;
    }

    /** A real QUIC server codec, only for its (empty) connection table, which the handler reads. */
    private static ChannelHandler codec() {
        KeyPair key = TestCertificates.ecP256();
        QuicSslContext ssl = QuicSslContextBuilder.forServer(key.getPrivate(), null,
                        TestCertificates.selfSigned(key, "localhost", Instant.now().minusSeconds(60),
                                Instant.now().plusSeconds(3600)))
                .applicationProtocols(Http3.supportedApplicationProtocols()).build();
        return Http3.newQuicServerCodecBuilder().sslContext(ssl).tokenHandler(InsecureQuicTokenHandler.INSTANCE)
                .localConnectionIdLength(20).handler(new ChannelInboundHandlerAdapter()).build();
    }
}
