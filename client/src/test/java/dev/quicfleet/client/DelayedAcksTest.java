package dev.quicfleet.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.DatagramPacket;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** When {@link DelayedAcks} lets the QUIC codec's read-complete (and with it quiche's ACK) go on. */
class DelayedAcksTest {

    private static final InetSocketAddress PEER = new InetSocketAddress("127.0.0.1", 4433);
    private static final InetSocketAddress LOCAL = new InetSocketAddress("127.0.0.1", 40000);

    private final DelayedAcks acks = new DelayedAcks(10, TimeUnit.MILLISECONDS.toNanos(1));
    private EmbeddedChannel channel;
    /** What reaches the codec's place: datagrams and read-completes. */
    private int datagrams;
    private int completes;

    @BeforeEach
    void setUp() {
        channel = new EmbeddedChannel(acks, new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                datagrams++;
                ReferenceCountUtil.release(msg);
            }

            @Override
            public void channelReadComplete(ChannelHandlerContext ctx) {
                completes++;
            }
        });
        channel.freezeTime();
    }

    /** One read of the socket: {@code n} datagrams whose first byte is {@code firstByte}, then the read-complete. */
    private void read(int n, int firstByte) {
        for (int i = 0; i < n; i++) {
            channel.pipeline().fireChannelRead(new DatagramPacket(
                    Unpooled.wrappedBuffer(new byte[] {(byte) firstByte, 1, 2, 3}), LOCAL, PEER));
        }
        channel.pipeline().fireChannelReadComplete();
    }

    @Test
    void datagramsPassAtOnceAndTheReadCompleteWaitsForTheThreshold() {
        read(4, 0x40); // short header (1-RTT)
        read(5, 0x40);
        assertThat(datagrams).isEqualTo(9);
        assertThat(completes).isZero();
        read(1, 0x40);
        assertThat(completes).isEqualTo(1);
        // counting starts again
        read(9, 0x40);
        assertThat(completes).isEqualTo(1);
    }

    @Test
    void aReadOfThresholdDatagramsCompletesAtOnce() {
        read(12, 0x40);
        assertThat(completes).isEqualTo(1);
    }

    @Test
    void theHeldReadCompletesAfterMaxDelay() {
        read(3, 0x40);
        channel.advanceTimeBy(900, TimeUnit.MICROSECONDS);
        channel.runScheduledPendingTasks();
        assertThat(completes).isZero();
        channel.advanceTimeBy(200, TimeUnit.MICROSECONDS);
        channel.runScheduledPendingTasks();
        assertThat(completes).isEqualTo(1);
        // nothing held: the timer does not fire again
        channel.advanceTimeBy(5, TimeUnit.MILLISECONDS);
        channel.runScheduledPendingTasks();
        assertThat(completes).isEqualTo(1);
    }

    @Test
    void handshakePacketsAreNotHeld() {
        read(1, 0xc0); // long header: Initial
        assertThat(completes).isEqualTo(1);
        read(2, 0x40);
        read(1, 0xe0); // Handshake, after short-header ones: releases those too
        assertThat(completes).isEqualTo(2);
    }

    @Test
    void aWriteReleasesTheHeldReadOnceTheCurrentTaskIsDone() {
        read(2, 0x40);
        acks.wrote();
        acks.wrote();
        assertThat(completes).as("not from inside the caller's task").isZero();
        channel.runPendingTasks();
        assertThat(completes).isEqualTo(1);
        // a write with nothing held changes nothing
        acks.wrote();
        channel.runPendingTasks();
        assertThat(completes).isEqualTo(1);
    }

    @Test
    void anEmptyReadCompleteGoesOn() {
        channel.pipeline().fireChannelReadComplete();
        assertThat(completes).isEqualTo(1);
    }

    @Test
    void aThresholdBelowTwoIsRefused() {
        assertThatThrownBy(() -> new DelayedAcks(1, 1000)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("threshold: 1");
    }
}
