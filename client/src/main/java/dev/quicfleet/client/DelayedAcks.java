package dev.quicfleet.client;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DatagramPacket;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Acknowledges a connection's packets every {@code threshold} datagrams instead of after every read, as ngtcp2 does
 * (its {@code ack-thresh}, 2 by default) and RFC 9000 §13.2.2 recommends (at least every second ack-eliciting packet).
 * It sits in front of Netty's QUIC codec on the connection's UDP channel.
 *
 * <p>Why: quiche has no acknowledgement threshold of its own: it puts an ACK into whatever it sends, and Netty asks it
 * to send after every read of the UDP socket ({@code channelReadComplete}). A client that keeps up with the server
 * finds one datagram per read, so it acknowledged every packet: a 1 GiB download cost 1.1 M client packets, most of
 * the client's CPU went into sending them (on loopback the sender also pays the receiver's softirq), and the server,
 * whose congestion window each ACK freed by a packet's worth, sent packets of whatever size was free (832 bytes on
 * average, too uneven for GSO). Here datagrams go to the codec at once (stream data reaches the application without
 * delay), but the read-complete signal, after which Netty lets quiche send, is held back until {@code threshold}
 * datagrams came in since the last one, or {@code maxDelay} after the first held one, whichever is first.
 *
 * <p>Not held: reads with a long-header packet (the handshake goes at full speed), and anything after {@link #wrote}:
 * while a read-complete is held, Netty also holds what the application writes on the connection's streams (quiche
 * sends only when the read cycle ends), so every write on this connection calls {@link #wrote}, which releases the
 * held read-complete before the event loop waits again; a request then carries the pending ACK with it.
 * {@code maxDelay} must stay below the {@code max_ack_delay} the client announces (quiche: 25 ms), since the server
 * subtracts at most that much from its RTT samples. Event-loop confined.
 */
final class DelayedAcks extends ChannelInboundHandlerAdapter {

    private final int threshold;
    private final long maxDelayNanos;
    private ChannelHandlerContext ctx;
    /** Datagrams handed to the codec since the read-complete last went on. */
    private int held;
    /** A datagram of this read carried a long header (handshake): do not hold this read's completion. */
    private boolean urgent;
    private ScheduledFuture<?> timer;
    private boolean releaseQueued;

    /** Passes the read-complete on every {@code threshold} datagrams, or {@code maxDelayNanos} after the first. */
    DelayedAcks(int threshold, long maxDelayNanos) {
        if (threshold < 2) {
            throw new IllegalArgumentException("threshold: " + threshold
                    + " (expected: 2 or more; 1 needs no handler)");
        }
        this.threshold = threshold;
        this.maxDelayNanos = maxDelayNanos;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof DatagramPacket packet) {
            ByteBuf content = packet.content();
            // RFC 9000 §17.2: the first bit of a long header is 1.
            if (content.isReadable() && (content.getByte(content.readerIndex()) & 0x80) != 0) {
                urgent = true;
            }
            held++;
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (held == 0) {
            ctx.fireChannelReadComplete();
        } else if (urgent || held >= threshold) {
            release();
        } else if (held > 0 && timer == null) {
            timer = ctx.executor().schedule(this::release, maxDelayNanos, TimeUnit.NANOSECONDS);
        }
    }

    /**
     * Something was written on the connection: lets the held read-complete (and with it the write) go on once the
     * current event-loop task is done. Must run on the event loop.
     */
    void wrote() {
        if (held > 0 && !releaseQueued) {
            releaseQueued = true;
            ctx.executor().execute(this::release);
        }
    }

    private void release() {
        releaseQueued = false;
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
        if (held > 0 || urgent) {
            held = 0;
            urgent = false;
            ctx.fireChannelReadComplete();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
        ctx.fireChannelInactive();
    }
}
