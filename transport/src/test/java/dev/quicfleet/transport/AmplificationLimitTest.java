package dev.quicfleet.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.DatagramPacket;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class AmplificationLimitTest {

    private static final InetSocketAddress CLIENT = new InetSocketAddress("127.0.0.1", 50_000);
    private static final InetSocketAddress OTHER = new InetSocketAddress("127.0.0.1", 50_001);
    private static final InetSocketAddress SERVER = new InetSocketAddress("127.0.0.1", 4433);

    private final ConnectionIds ids = ConnectionIds.of(new byte[0]);
    private final AtomicLong now = new AtomicLong(1);
    private final AtomicInteger dropped = new AtomicInteger();
    private final AmplificationLimit limit = new AmplificationLimit(ids, Duration.ofSeconds(15), 3, now::get,
            dropped::incrementAndGet);
    private final EmbeddedChannel channel = new EmbeddedChannel(limit);

    @Test
    void sendsAtMostThreeTimesWhatAnUnvalidatedAddressSent() {
        receive(CLIENT, initial(1200));
        assertThat(send(CLIENT, 1200)).isTrue();
        assertThat(send(CLIENT, 1200)).isTrue();
        assertThat(send(CLIENT, 1200)).isTrue();
        assertThat(send(CLIENT, 1)).as("3,601st byte").isFalse();
        assertThat(dropped).hasValue(1);
        // anything more the client sends raises the budget, as in quiche
        receive(CLIENT, initial(100));
        assertThat(send(CLIENT, 300)).isTrue();
        assertThat(send(CLIENT, 1)).isFalse();
    }

    @Test
    void aHandshakePacketToAnIdThisHostIssuedValidatesTheAddress() {
        receive(CLIENT, initial(1200));
        assertThat(send(CLIENT, 3600)).isTrue();
        receive(CLIENT, handshake(ids.newId(0, 0)));
        assertThat(send(CLIENT, 50_000)).isTrue();
        // a later Initial (an ACK the client still sends) does not start a new budget
        receive(CLIENT, initial(1200));
        assertThat(send(CLIENT, 50_000)).isTrue();
    }

    @Test
    void aHandshakePacketToAnotherIdDoesNotValidate() {
        receive(CLIENT, initial(1200));
        byte[] foreign = new byte[ids.length()];
        foreign[0] = (byte) 0xff; // codepoint 0b111: never issued
        receive(CLIENT, handshake(foreign));
        assertThat(send(CLIENT, 3600 + 50)).as("budget: 3 x (1,200 + the Handshake packet)").isTrue();
        assertThat(send(CLIENT, 5000)).isFalse();
    }

    @Test
    void aCompletedHandshakeValidatesTheAddress() {
        receive(CLIENT, initial(1200));
        limit.validated(CLIENT);
        assertThat(send(CLIENT, 10_000)).isTrue();
    }

    @Test
    void addressesWithoutAnInitialAndExpiredBudgetsAreNotLimited() {
        assertThat(send(OTHER, 10_000)).as("no Initial seen: an established connection").isTrue();
        receive(CLIENT, initial(1200));
        assertThat(send(CLIENT, 4000)).isFalse();
        now.addAndGet(Duration.ofSeconds(15).toNanos());
        assertThat(send(CLIENT, 4000)).as("after the lifetime").isTrue();
    }

    @Test
    void keepsAtMostMaxEntriesAndDropsEmptyDatagrams() {
        for (int port = 1; port <= 5; port++) {
            receive(new InetSocketAddress("127.0.0.1", port), initial(1200));
        }
        assertThat(limit.tracked()).isEqualTo(3);
        assertThat(send(new InetSocketAddress("127.0.0.1", 1), 10_000)).as("evicted: oldest first").isTrue();
        assertThat(send(new InetSocketAddress("127.0.0.1", 5), 10_000)).isFalse();
        assertThat(send(OTHER, 0)).as("an empty datagram is no QUIC packet").isFalse();
    }

    private void receive(InetSocketAddress from, ByteBuf content) {
        channel.writeInbound(new DatagramPacket(content, SERVER, from));
        DatagramPacket passed = channel.readInbound();
        assertThat(passed).isNotNull();
        passed.release();
    }

    /** Writes a datagram of {@code size} bytes to {@code to}; whether it reached the socket. */
    private boolean send(InetSocketAddress to, int size) {
        channel.writeOutbound(new DatagramPacket(Unpooled.wrappedBuffer(new byte[size]), to, SERVER));
        DatagramPacket out = channel.readOutbound();
        if (out == null) {
            return false;
        }
        out.release();
        return true;
    }

    /** A v1 Initial of {@code size} bytes (the header is all the limit reads). */
    private static ByteBuf initial(int size) {
        ByteBuffer b = ByteBuffer.allocate(size);
        b.put((byte) 0xc3).putInt(1).put((byte) 8).putLong(42).put((byte) 0);
        return Unpooled.wrappedBuffer(b.array());
    }

    /** A v1 Handshake packet of 50 bytes to {@code dcid}. */
    private static ByteBuf handshake(byte[] dcid) {
        ByteBuffer b = ByteBuffer.allocate(Math.max(50, 7 + dcid.length));
        b.put((byte) 0xe3).putInt(1).put((byte) dcid.length).put(dcid).put((byte) 0);
        return Unpooled.wrappedBuffer(b.array());
    }
}
