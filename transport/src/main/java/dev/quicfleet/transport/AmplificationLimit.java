package dev.quicfleet.transport;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.DatagramPacket;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * A hard anti-amplification limit (RFC 9000 §8.1) on a server's UDP channel: until a client's address is validated,
 * the datagrams sent to it carry at most {@value #FACTOR} times the bytes received from it. It sits between the socket
 * and the QUIC codec and drops what the codec would send beyond that budget, whatever the codec and quiche decide.
 *
 * <p>Why quiche's own limit is not enough (quiche at the commit Netty 4.2.18 builds, {@code 5ea8d8e3},
 * {@code quiche/src/lib.rs}): quiche adds {@code 3 x len} to the path's {@code max_send_bytes} for every datagram it
 * receives and subtracts each packet it writes ({@code send_single}: {@code path.max_send_bytes
 * .saturating_sub(written)}); but {@code send_on_path} pads a datagram that carries an Initial packet to 1,200 bytes
 * <em>after</em> {@code send_single} returned, and the padding is never charged to the budget. Every probe the server
 * sends while it waits for a silent client is such a datagram: measured on Netty 4.2.18 with one 1,200-byte client
 * Initial (loopback, {@code --retry never}), the worker sent at 0 s Initial 171 + Handshake 700 + 329 padding; 1 s
 * Initial 173 + 1,027 padding; 2 s Handshake 700 and 67; 5 s two Initials (173, 80) each padded to 1,200; 10 s
 * Handshake 700 and 67; 21 s two Initials padded to 775 and 602: 7,707 bytes (6.4x), of which quiche charged about
 * 3,100 (the packets) against its 3,600 budget and never saw the 4,600 bytes of padding. On io_uring three empty
 * datagrams followed at 30 s (Netty, when quiche's idle timeout closed the connection); they carry no QUIC packet and
 * are dropped here too. The handshake deadline ({@code --handshake-timeout}) ends such connections earlier; this
 * handler bounds what they send until then.
 *
 * <p>The budget is kept per client address (IP and port), from that address's first Initial, and ends when the
 * address is validated (the entry stays, marked, until it expires): when a long-header Handshake packet arrives from
 * it whose destination connection ID is one this host issued (a client only learns that ID from the server's first
 * flight, which an attacker spoofing the address never sees; quiche validates the address on the same event, after
 * decrypting it), or when {@link #validated} reports a completed handshake. Entries expire after {@code lifetime}
 * (longer than the handshake deadline, after which no handshake is left to protect) and at most {@code maxEntries}
 * are kept (the oldest go first), so a flood of Initials from forged addresses costs bounded memory.
 *
 * <p>Not sharable: one instance per UDP channel; all methods run on that channel's event loop, except
 * {@link #validated}, which hands its work to it.
 */
public final class AmplificationLimit extends ChannelDuplexHandler {

    /** RFC 9000 §8.1: an endpoint MUST NOT send more than three times the bytes it received before validation. */
    public static final int FACTOR = 3;
    /** QUIC version 1 (RFC 9000); the only version quiche in Netty 4.2.18 speaks. */
    private static final int QUIC_V1 = 1;
    private static final int TYPE_INITIAL = 0;
    private static final int TYPE_HANDSHAKE = 2;

    private final ConnectionIds ids;
    private final long lifetimeNanos;
    private final int maxEntries;
    private final LongSupplier nanoClock;
    private final Runnable dropped;
    private final Map<InetSocketAddress, Budget> budgets = new LinkedHashMap<>();
    private ChannelHandlerContext ctx;

    /**
     * @param ids        the layout of the connection IDs this host issues (a Handshake packet to one validates)
     * @param lifetime   how long a budget is kept after the address's first Initial
     * @param maxEntries the most addresses tracked at once
     * @param nanoClock  {@link System#nanoTime()} or a test clock
     * @param dropped    called for every datagram dropped (a metric)
     */
    public AmplificationLimit(ConnectionIds ids, Duration lifetime, int maxEntries, LongSupplier nanoClock,
                              Runnable dropped) {
        if (maxEntries < 1) {
            throw new IllegalArgumentException("maxEntries: " + maxEntries + " (expected: >= 1)");
        }
        this.ids = ids;
        this.lifetimeNanos = lifetime.toNanos();
        this.maxEntries = maxEntries;
        this.nanoClock = nanoClock;
        this.dropped = dropped;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    /** Addresses currently limited (for tests and diagnostics). */
    int tracked() {
        return budgets.size();
    }

    /** The handshake with {@code client} completed: its address is validated (safe from any thread). */
    public void validated(InetSocketAddress client) {
        ChannelHandlerContext context = ctx;
        if (client == null || context == null) {
            return;
        }
        if (context.executor().inEventLoop()) {
            validate(client);
        } else {
            context.executor().execute(() -> validate(client));
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof DatagramPacket packet && packet.sender() != null) {
            received(packet.sender(), packet.content());
        }
        ctx.fireChannelRead(msg);
    }

    private void received(InetSocketAddress from, ByteBuf content) {
        int start = content.readerIndex();
        int length = content.readableBytes();
        if (length == 0) {
            return;
        }
        int first = content.getUnsignedByte(start);
        if ((first & 0x80) != 0 && length >= 6 && content.getInt(start + 1) == QUIC_V1) {
            int type = (first >> 4) & 0x3;
            if (type == TYPE_HANDSHAKE && carriesOurId(content, start, length)) {
                validate(from);
                return;
            }
            if (type == TYPE_INITIAL) {
                long now = nanoClock.getAsLong();
                expire(now);
                Budget budget = budgets.get(from);
                if (budget == null) {
                    budget = new Budget(now);
                    budgets.put(from, budget);
                    if (budgets.size() > maxEntries) {
                        Iterator<Budget> eldest = budgets.values().iterator();
                        eldest.next();
                        eldest.remove();
                    }
                }
                budget.received += length;
                return;
            }
        }
        Budget budget = budgets.get(from);
        if (budget != null) {
            budget.received += length; // quiche counts every datagram from the address, valid or not
        }
    }

    /**
     * Marks the address validated: kept (not removed) until it expires, so that the Initial packets a client still
     * sends after the server completed (ACKs, until it drops its Initial keys) do not start a new budget for it.
     */
    private void validate(InetSocketAddress client) {
        Budget budget = budgets.get(client);
        if (budget != null) {
            budget.validated = true;
        }
    }

    private boolean carriesOurId(ByteBuf content, int start, int length) {
        int idLength = content.getUnsignedByte(start + 5);
        if (idLength != ids.length() || 6 + idLength > length) {
            return false;
        }
        ByteBuffer dcid = content.nioBuffer(start + 6, idLength);
        return ids.isIssuedByThisHost(dcid);
    }

    private void expire(long now) {
        Iterator<Budget> oldest = budgets.values().iterator();
        while (oldest.hasNext()) {
            if (now - oldest.next().createdNanos < lifetimeNanos) {
                return; // insertion order: the rest are younger
            }
            oldest.remove();
        }
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (msg instanceof DatagramPacket packet) {
            int size = packet.content().readableBytes();
            if (size == 0) {
                // An empty UDP payload is no QUIC packet (Netty on io_uring writes some when a connection times out).
                ReferenceCountUtil.release(msg);
                promise.trySuccess();
                return;
            }
            Budget budget = packet.recipient() == null ? null : budgets.get(packet.recipient());
            if (budget != null && !budget.validated) {
                if (nanoClock.getAsLong() - budget.createdNanos >= lifetimeNanos) {
                    budgets.remove(packet.recipient());
                } else if (budget.sent + size > FACTOR * budget.received) {
                    // Dropped like a lost packet: quiche retransmits if the client ever answers.
                    ReferenceCountUtil.release(msg);
                    promise.trySuccess();
                    dropped.run();
                    return;
                } else {
                    budget.sent += size;
                }
            }
        }
        ctx.write(msg, promise);
    }

    /** Bytes received from and sent to one address before it was validated. */
    private static final class Budget {
        final long createdNanos;
        long received;
        long sent;
        boolean validated;

        Budget(long createdNanos) {
            this.createdNanos = createdNanos;
        }
    }
}
