package dev.quicfleet.worker.protocol.quic;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.DatagramPacket;
import io.netty.channel.unix.SegmentedDatagramPacket;
import io.netty.handler.codec.quic.QuicChannel;
import io.netty.handler.codec.quic.QuicPathEvent;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a connection whose client moved to a new address (a NAT rebinding, or a migration) on the path quiche first
 * knew, so that the packets lost at the move are retransmitted.
 *
 * <p><b>Why.</b> quiche (the one Netty 4.2.18 bundles, 0.29.x) keeps loss recovery per path: each path has its own list
 * of packets in flight and its own largest acknowledged packet number. When a client's NAT rebinds, quiche creates a
 * path for the new address, validates it and makes it the active one ({@code Connection::on_peer_migrated} →
 * {@code set_active_path}); the old path's recovery then only runs its time-threshold check once
 * ({@code LegacyRecovery::on_path_change} → {@code detect_lost_packets}), which looks only at packets up to that path's
 * largest acknowledged one. The packets sent to the old address just before the rebinding — the ones the NAT dropped
 * — are beyond it and nothing is ever sent on that path again, so they are never declared lost: the old path's PTO
 * re-queues the frames of its two oldest unacknowledged packets, again and again, and never the rest
 * ({@code on_loss_detection_timeout}). The stream data they carried is never retransmitted; the client's receive
 * window fills up behind the hole and the transfer stalls until the idle timeout. (aioquic keeps one recovery per
 * packet-number space and recovers at once.) No quiche or Netty setting changes this: {@code disable_active_migration}
 * is only a transport parameter sent to the client, and Netty offers no way to send on a chosen path. Upstream report:
 * docs/CONNECTION-IDS.md, "NAT rebinding".
 *
 * <p><b>What.</b> Once quiche has validated the client's new address N and moved the connection there (its
 * {@link QuicPathEvent.PeerMigrated}, which it only announces after the PATH_CHALLENGE was answered), this class
 * translates addresses around the codec, like a NAT of our own: datagrams from N enter the codec as if they came from
 * the connection's previous address H, and datagrams the codec sends to H leave for N. quiche sees a packet on path H
 * again, moves back to it (H is validated), and its new packets on H are acknowledged — which declares H's lost
 * packets lost, and their data is sent again. Path validation and its anti-amplification limit stay quiche's: an
 * address is only translated to after quiche validated it.
 *
 * <p>Limits: a client that moves back to exactly H later is not followed (its datagrams keep going to N); a new
 * connection from H (a NAT that reused the address) ends the translation for H. Packets quiche had in flight on N
 * when it moves back to H are recovered only if the client acknowledges later ones on N — the same quiche weakness,
 * for one round trip instead of until the idle timeout.
 */
public final class NatRebinding {

    private static final Logger log = LoggerFactory.getLogger(NatRebinding.class);

    /** Client's current address → the address quiche knows it by. */
    private final Map<InetSocketAddress, InetSocketAddress> toHome = new ConcurrentHashMap<>();
    /** The address quiche knows → the client's current address. */
    private final Map<InetSocketAddress, InetSocketAddress> toCurrent = new ConcurrentHashMap<>();
    private final ChannelHandler datagramHandler = new DatagramTranslator();

    /** The handler for the UDP channel, right ahead of the QUIC codec (one instance for every channel). */
    public ChannelHandler datagramHandler() {
        return datagramHandler;
    }

    /** Wraps the codec's connection handler: each connection also gets the handler that follows its migrations. */
    public ChannelHandler connections(ChannelHandler connectionInitializer) {
        return new ChannelInitializer<QuicChannel>() {
            @Override
            protected void initChannel(QuicChannel connection) {
                connection.pipeline().addLast(new MigrationListener(), connectionInitializer);
            }
        };
    }

    private void translate(InetSocketAddress current, InetSocketAddress home, InetSocketAddress previous) {
        if (previous != null && !previous.equals(current)) {
            toHome.remove(previous, home);
        }
        toHome.put(current, home);
        toCurrent.put(home, current);
    }

    private void forget(InetSocketAddress current, InetSocketAddress home) {
        if (current != null) {
            toHome.remove(current, home);
            toCurrent.remove(home, current);
        }
    }

    /** Follows one connection's path events (on its event loop). */
    private final class MigrationListener extends ChannelInboundHandlerAdapter {
        /** The address quiche knew the client by before it first moved. */
        private InetSocketAddress home;
        /** Where the client is now, while translated. */
        private InetSocketAddress current;

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            if (((QuicChannel) ctx.channel()).remoteSocketAddress() instanceof InetSocketAddress remote) {
                home = remote;
            }
            ctx.fireChannelActive();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof QuicPathEvent.PeerMigrated migrated && home != null) {
                InetSocketAddress moved = peerAddress((QuicChannel) ctx.channel(), migrated);
                if (moved != null && !moved.equals(home)) {
                    // quiche validated the new address and moved there: from now on it sees the client at home again
                    log.debug("client {} moved to {}: translating it to the address of its first path", home, moved);
                    translate(moved, home, current);
                    current = moved;
                }
            }
            ctx.fireUserEventTriggered(evt);
        }

        /**
         * The client's new address, from the event. Netty 4.2.18 builds the addresses of path events with the port's
         * bytes swapped (127.0.0.1:4433 arrives as 127.0.0.1:20753), so the event is checked against the connection's
         * own addresses: the remote one is the sender of the packet that completed the migration.
         */
        private static InetSocketAddress peerAddress(QuicChannel connection, QuicPathEvent event) {
            InetSocketAddress remote = event.remote();
            InetSocketAddress swapped = swapPort(remote);
            if (connection.remoteSocketAddress() instanceof InetSocketAddress now
                    && (now.equals(remote) || now.equals(swapped))) {
                return now;
            }
            if (connection.localSocketAddress() instanceof InetSocketAddress local) {
                if (local.getPort() == event.local().getPort()) {
                    return remote;
                }
                if (local.getPort() == swapPort(event.local()).getPort()) {
                    return swapped;
                }
            }
            return null;
        }

        private static InetSocketAddress swapPort(InetSocketAddress address) {
            int port = address.getPort();
            return new InetSocketAddress(address.getAddress(), ((port & 0xFF) << 8) | (port >> 8));
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            forget(current, home);
            current = null;
            ctx.fireChannelInactive();
        }
    }

    /** Rewrites the client address of datagrams into and out of the codec. */
    @ChannelHandler.Sharable
    private final class DatagramTranslator extends ChannelDuplexHandler {

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!toHome.isEmpty() && msg instanceof DatagramPacket packet) {
                InetSocketAddress home = toHome.get(packet.sender());
                if (home != null) {
                    ctx.fireChannelRead(new DatagramPacket(packet.content(), packet.recipient(), home));
                    return;
                }
                InetSocketAddress current = toCurrent.get(packet.sender());
                if (current != null && isInitial(packet)) {
                    // a new connection from the old address: the NAT gave it to someone else
                    toCurrent.remove(packet.sender(), current);
                    toHome.remove(current, packet.sender());
                }
            }
            ctx.fireChannelRead(msg);
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            if (!toCurrent.isEmpty() && msg instanceof DatagramPacket packet) {
                InetSocketAddress current = toCurrent.get(packet.recipient());
                if (current != null) {
                    ctx.write(readdressed(packet, current), promise);
                    return;
                }
            }
            ctx.write(msg, promise);
        }

        /** A QUIC v1 Initial: long header, type 0. */
        private static boolean isInitial(DatagramPacket packet) {
            return packet.content().isReadable()
                    && (packet.content().getUnsignedByte(packet.content().readerIndex()) & 0xB0) == 0x80;
        }

        private static DatagramPacket readdressed(DatagramPacket packet, InetSocketAddress recipient) {
            SocketAddress sender = packet.sender();
            InetSocketAddress from = sender instanceof InetSocketAddress inet ? inet : null;
            if (packet instanceof SegmentedDatagramPacket segmented) {
                return new SegmentedDatagramPacket(packet.content(), segmented.segmentSize(), recipient, from);
            }
            return new DatagramPacket(packet.content(), recipient, from);
        }
    }
}
