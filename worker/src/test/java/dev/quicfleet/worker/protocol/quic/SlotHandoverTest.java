package dev.quicfleet.worker.protocol.quic;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The hand-over link between the two workers of a reloading slot, over real UDP sockets on 127.0.0.1. */
class SlotHandoverTest {

    private static final InetSocketAddress CLIENT = new InetSocketAddress("192.0.2.7", 40123);
    private static final InetSocketAddress CLIENT_V6 = new InetSocketAddress("2001:db8::7", 443);
    private static final InetSocketAddress LOCAL = new InetSocketAddress("0.0.0.0", 4433);

    private SlotHandover oldWorker;
    private SlotHandover newWorker;
    private final EmbeddedChannel newWorkerChannel = new EmbeddedChannel();

    @AfterEach
    void close() {
        for (SlotHandover handover : new SlotHandover[] {oldWorker, newWorker}) {
            if (handover != null) {
                handover.close();
            }
        }
        newWorkerChannel.finishAndReleaseAll();
    }

    private void link() throws Exception {
        oldWorker = SlotHandover.open();
        newWorker = SlotHandover.open();
        oldWorker.peer(newWorker.port());
        newWorker.peer(oldWorker.port());
        newWorkerChannel.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void handlerAdded(ChannelHandlerContext ctx) {
                newWorker.injectInto(ctx);
            }
        });
    }

    @Test
    void aPassedOnPacketArrivesAsIfReadFromTheSharedSocket() throws Exception {
        link();
        assertThat(oldWorker.forward(packet("initial", LOCAL, CLIENT))).isTrue();
        assertThat(oldWorker.forward(packet("short header", LOCAL, CLIENT_V6))).isTrue();

        DatagramPacket first = awaitInbound();
        assertThat(first.sender()).isEqualTo(CLIENT);
        assertThat(first.recipient()).isEqualTo(LOCAL);
        assertThat(first.content().toString(StandardCharsets.US_ASCII)).isEqualTo("initial");
        first.release();
        DatagramPacket second = awaitInbound();
        assertThat(second.sender()).isEqualTo(CLIENT_V6);
        assertThat(ByteBufUtil.getBytes(second.content())).isEqualTo("short header".getBytes(StandardCharsets.US_ASCII));
        second.release();
    }

    @Test
    void onlyThePeerIsHeardAndNothingIsPassedOnWithoutOne() throws Exception {
        link();
        // another local process writes a well-formed frame to the new worker's link port: ignored
        try (DatagramSocket stranger = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            byte[] frame = {1, 4, (byte) 192, 0, 2, 7, 0, 80, 4, 0, 0, 0, 0, 0, 80, 'x'};
            stranger.send(new java.net.DatagramPacket(frame, frame.length, InetAddress.getLoopbackAddress(),
                    newWorker.port()));
        }
        assertThat(oldWorker.forward(packet("from the peer", LOCAL, CLIENT))).isTrue();
        DatagramPacket heard = awaitInbound();
        assertThat(heard.content().toString(StandardCharsets.US_ASCII)).isEqualTo("from the peer");
        heard.release();
        Thread.sleep(200);
        newWorkerChannel.runPendingTasks();
        assertThat((Object) newWorkerChannel.readInbound()).as("the stranger's frame").isNull();

        oldWorker.peer(0);
        assertThat(oldWorker.active()).isFalse();
        DatagramPacket notSent = packet("after the hand-over", LOCAL, CLIENT);
        assertThat(oldWorker.forward(notSent)).isFalse();
        notSent.release();
    }

    private DatagramPacket awaitInbound() throws InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (System.nanoTime() < deadline) {
            newWorkerChannel.runPendingTasks();
            Object inbound = newWorkerChannel.readInbound();
            if (inbound != null) {
                return (DatagramPacket) inbound;
            }
            Thread.sleep(5);
        }
        throw new AssertionError("nothing arrived over the hand-over link within 5s");
    }

    private static DatagramPacket packet(String payload, InetSocketAddress recipient, InetSocketAddress sender) {
        return new DatagramPacket(Unpooled.copiedBuffer(payload, StandardCharsets.US_ASCII), recipient, sender);
    }
}
