package dev.quicfleet.worker.protocol.tcp;

import dev.quicfleet.proxy.TrustedNetworks;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.ProtocolDetectionResult;
import io.netty.handler.codec.ProtocolDetectionState;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageDecoder;
import io.netty.handler.codec.haproxy.HAProxyProtocolVersion;
import io.netty.handler.codec.haproxy.HAProxyProxiedProtocol;
import io.netty.util.AttributeKey;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.function.BiConsumer;

/**
 * The first handler of a TCP connection, ahead of TLS: the PROXY protocol (v1 or v2, HAProxy's
 * {@code proxy-protocol.txt}) that an L4 balancer which does not preserve client addresses puts in front of the
 * connection's bytes.
 *
 * <ul>
 *   <li>From a peer in {@code --proxy-protocol-from}: the connection must start with a PROXY header. Its source
 *       address becomes the client's address ({@link #CLIENT}: {@code X-Forwarded-For}, the access log, the demo
 *       page); a {@code LOCAL} header (the balancer's own health check) or an {@code UNKNOWN} protocol keeps the
 *       peer's address. No header, or a malformed one: refused.</li>
 *   <li>From anyone else: a connection that starts with a PROXY header is refused (a client claiming another
 *       address); any other bytes pass on to TLS untouched.</li>
 * </ul>
 * A refused connection is closed at once and reported to {@code refused} (counted once, logged sparingly by
 * {@link TcpConnections}). The gate removes itself after the header (or the first bytes), so the rest of the
 * connection pays nothing for it.
 */
final class ProxyProtocolGate extends ByteToMessageDecoder {

    /** The client's address from a PROXY header; absent when the connection had none. */
    static final AttributeKey<InetSocketAddress> CLIENT = AttributeKey.valueOf("quicfleet.tcp.proxyClient");

    private final boolean required;
    private final BiConsumer<Channel, String> refused;

    private ProxyProtocolGate(boolean required, BiConsumer<Channel, String> refused) {
        this.required = required;
        this.refused = refused;
    }

    /** The gate for a new connection from {@code peer}. */
    static ProxyProtocolGate forPeer(TrustedNetworks proxyProtocolFrom, InetSocketAddress peer,
                                     BiConsumer<Channel, String> refused) {
        return new ProxyProtocolGate(proxyProtocolFrom.contains(peer), refused);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (!in.isReadable()) {
            return;
        }
        ProtocolDetectionState state;
        byte first = in.getByte(in.readerIndex());
        if (first != 'P' && first != '\r') {
            state = ProtocolDetectionState.INVALID; // a TLS record (0x16) or anything else: not a PROXY header
        } else {
            ProtocolDetectionResult<HAProxyProtocolVersion> detected = HAProxyMessageDecoder.detectProtocol(in);
            state = detected.state();
        }
        switch (state) {
            case NEEDS_MORE_DATA -> {
                // fewer than 12 bytes so far
            }
            case INVALID -> {
                if (required) {
                    refuse(ctx, "no PROXY protocol header from a --proxy-protocol-from address");
                } else {
                    ctx.pipeline().remove(this); // hands the bytes read so far to TLS
                }
            }
            case DETECTED -> {
                if (required) {
                    String name = ctx.name();
                    ctx.pipeline().addAfter(name, "proxy-protocol-address", new ClientAddress());
                    ctx.pipeline().addAfter(name, "proxy-protocol", new HAProxyMessageDecoder());
                    ctx.pipeline().remove(this); // the header's bytes go to the decoder just added
                } else {
                    refuse(ctx, "a PROXY protocol header from an address not in --proxy-protocol-from");
                }
            }
        }
    }

    private void refuse(ChannelHandlerContext ctx, String why) {
        ByteBuf cumulation = internalBuffer();
        cumulation.skipBytes(cumulation.readableBytes());
        refused.accept(ctx.channel(), why);
        ctx.close();
    }

    /** Takes the decoded header: records the client's address, then leaves the pipeline. */
    private final class ClientAddress extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof HAProxyMessage header)) {
                ctx.fireChannelRead(msg);
                return;
            }
            try {
                HAProxyProxiedProtocol protocol = header.proxiedProtocol();
                if (header.command() == HAProxyCommand.PROXY && (protocol == HAProxyProxiedProtocol.TCP4
                        || protocol == HAProxyProxiedProtocol.TCP6) && header.sourceAddress() != null) {
                    ctx.channel().attr(CLIENT).set(new InetSocketAddress(header.sourceAddress(), header.sourcePort()));
                }
            } finally {
                header.release();
            }
            ctx.pipeline().remove(this);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            refused.accept(ctx.channel(), "a malformed PROXY protocol header: " + cause.getMessage());
            ctx.close();
        }
    }
}
