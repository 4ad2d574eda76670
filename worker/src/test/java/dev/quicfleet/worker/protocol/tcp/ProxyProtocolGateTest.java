package dev.quicfleet.worker.protocol.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quicfleet.proxy.TrustedNetworks;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.embedded.EmbeddedChannel;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The PROXY protocol gate on its own, in an {@link EmbeddedChannel}: what passes, what is refused, what is read. */
class ProxyProtocolGateTest {

    private static final TrustedNetworks BALANCERS = TrustedNetworks.parse("proxy-protocol-from", "10.0.0.0/8");
    private static final InetSocketAddress BALANCER = new InetSocketAddress("10.1.2.3", 40_000);
    private static final InetSocketAddress CLIENT = new InetSocketAddress("192.0.2.50", 40_000);
    /** The start of a TLS ClientHello record. */
    private static final byte[] TLS = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, (byte) 0xfc, 0x03, 0x03, 0x42,
            0x42, 0x42};

    private final List<String> refused = new ArrayList<>();

    private EmbeddedChannel channel(InetSocketAddress peer) {
        return new EmbeddedChannel(ProxyProtocolGate.forPeer(BALANCERS, peer, (Channel ch, String why) ->
                refused.add(why)));
    }

    private static byte[] v2(int command, String source, int port) throws Exception {
        ByteBuffer header = ByteBuffer.allocate(28);
        header.put(new byte[] {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A});
        header.put((byte) (0x20 | command)).put((byte) 0x11).putShort((short) 12);
        header.put(InetAddress.getByName(source).getAddress()).put(InetAddress.getByName("10.9.9.9").getAddress());
        header.putShort((short) port).putShort((short) 443);
        return header.array();
    }

    private static ByteBuf concat(byte[]... parts) {
        return Unpooled.wrappedBuffer(parts);
    }

    private static byte[] readAll(EmbeddedChannel ch) {
        ByteBuf all = Unpooled.buffer();
        for (ByteBuf b; (b = ch.readInbound()) != null; ) {
            all.writeBytes(b);
            b.release();
        }
        byte[] bytes = new byte[all.readableBytes()];
        all.readBytes(bytes);
        return bytes;
    }

    @Test
    void aBalancersV2HeaderSetsTheClientAndTheTlsBytesPassOnUntouched() throws Exception {
        EmbeddedChannel ch = channel(BALANCER);
        ch.writeInbound(concat(v2(1, "198.51.100.7", 5555), TLS));
        assertThat(ch.attr(ProxyProtocolGate.CLIENT).get()).isEqualTo(new InetSocketAddress("198.51.100.7", 5555));
        assertThat(readAll(ch)).isEqualTo(TLS);
        assertThat(ch.isOpen()).isTrue();
        assertThat(refused).isEmpty();
        assertThat(ch.pipeline().names()).as("the gate and the decoder left the pipeline")
                .doesNotContain("proxy-protocol", "proxy-protocol-address");
    }

    @Test
    void aHeaderSplitAcrossReadsIsStillRead() throws Exception {
        EmbeddedChannel ch = channel(BALANCER);
        byte[] header = v2(1, "198.51.100.8", 6000);
        ch.writeInbound(Unpooled.wrappedBuffer(header, 0, 5));
        ch.writeInbound(Unpooled.wrappedBuffer(header, 5, 15));
        assertThat(ch.attr(ProxyProtocolGate.CLIENT).get()).isNull();
        ch.writeInbound(concat(Arrays.copyOfRange(header, 20, header.length), TLS));
        assertThat(ch.attr(ProxyProtocolGate.CLIENT).get()).isEqualTo(new InetSocketAddress("198.51.100.8", 6000));
        assertThat(readAll(ch)).isEqualTo(TLS);
    }

    @Test
    void aV1HeaderWorksToo() {
        EmbeddedChannel ch = channel(BALANCER);
        ch.writeInbound(concat("PROXY TCP4 203.0.113.9 10.9.9.9 7000 443\r\n".getBytes(StandardCharsets.US_ASCII),
                TLS));
        assertThat(ch.attr(ProxyProtocolGate.CLIENT).get()).isEqualTo(new InetSocketAddress("203.0.113.9", 7000));
        assertThat(readAll(ch)).isEqualTo(TLS);
    }

    @Test
    void aLocalHeaderOfTheBalancersOwnHealthCheckKeepsThePeersAddress() throws Exception {
        EmbeddedChannel ch = channel(BALANCER);
        ch.writeInbound(concat(v2(0, "198.51.100.7", 5555), TLS));
        assertThat(ch.attr(ProxyProtocolGate.CLIENT).get()).isNull();
        assertThat(readAll(ch)).isEqualTo(TLS);
        assertThat(refused).isEmpty();
    }

    @Test
    void theBalancerWithoutAHeaderIsRefused() {
        EmbeddedChannel ch = channel(BALANCER);
        ch.writeInbound(Unpooled.wrappedBuffer(TLS));
        assertThat(ch.isOpen()).isFalse();
        assertThat(readAll(ch)).isEmpty();
        assertThat(refused).containsExactly("no PROXY protocol header from a --proxy-protocol-from address");
    }

    @Test
    void aMalformedHeaderFromTheBalancerIsRefused() {
        EmbeddedChannel ch = channel(BALANCER);
        ch.writeInbound(Unpooled.copiedBuffer("PROXY TCP4 not-an-address 10.9.9.9 1 2\r\n", StandardCharsets.US_ASCII));
        assertThat(ch.isOpen()).isFalse();
        assertThat(refused).hasSize(1);
        assertThat(refused.get(0)).startsWith("a malformed PROXY protocol header");
    }

    @Test
    void anyoneElsesHeaderIsRefusedAndTheirTlsPasses() throws Exception {
        EmbeddedChannel spoofer = channel(CLIENT);
        spoofer.writeInbound(concat(v2(1, "198.51.100.7", 5555), TLS));
        assertThat(spoofer.isOpen()).isFalse();
        assertThat(readAll(spoofer)).isEmpty();
        assertThat(refused).containsExactly("a PROXY protocol header from an address not in --proxy-protocol-from");

        EmbeddedChannel client = channel(CLIENT);
        client.writeInbound(Unpooled.wrappedBuffer(TLS, 0, 1));
        assertThat(readAll(client)).as("one byte is enough to tell TLS apart").containsExactly(0x16);
        client.writeInbound(Unpooled.wrappedBuffer(TLS, 1, TLS.length - 1));
        assertThat(readAll(client)).hasSize(TLS.length - 1);
        assertThat(client.attr(ProxyProtocolGate.CLIENT).get()).isNull();
        assertThat(refused).hasSize(1);
    }
}
