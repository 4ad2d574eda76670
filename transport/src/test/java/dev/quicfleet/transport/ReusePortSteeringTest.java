package dev.quicfleet.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.DatagramPacket;
import io.netty.channel.unix.Socket;
import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

class ReusePortSteeringTest {

    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
    private static final long HASH = 0xFFFF_FFFFL;
    /** Packets from distinct source ports per "spread by hash" check; all on one of 2 sockets: p = 2^-63. */
    private static final int SPREAD_SAMPLES = 64;

    private final ConnectionIds ids = ConnectionIds.of(new byte[] {0x0a, 0x0b}); // slot offset 3, read at 4

    private EventLoopGroup group;
    private final List<DatagramChannel> channels = new ArrayList<>();
    private final List<Socket> rawSockets = new ArrayList<>();
    private final BlockingQueue<Integer> arrivals = new LinkedBlockingQueue<>();

    @AfterEach
    void closeEverything() throws IOException {
        for (DatagramChannel channel : channels) {
            channel.close().syncUninterruptibly();
        }
        for (Socket socket : rawSockets) {
            if (socket.isOpen()) {
                socket.close();
            }
        }
        if (group != null) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    // ---- the program's bytes, evaluated by a classic BPF interpreter ----

    @Test
    void programIsSevenInstructionsReadingTheSlotAtOnePlusItsOffset() {
        byte[] program = ReusePortSteering.program(ids);
        assertThat(program).hasSize(7 * ReusePortSteering.INSTRUCTION_SIZE);
        ByteBuffer insns = ByteBuffer.wrap(program).order(ByteOrder.nativeOrder());
        // instruction 4: ldb [p] with p = 1 (short-header flags) + 3 (slot offset in the DCID)
        assertThat(insns.getShort(4 * 8) & 0xFFFF).isEqualTo(0x30);
        assertThat(insns.getInt(4 * 8 + 4)).isEqualTo(4);
        assertThat(ReusePortSteering.listing(ids.slotOffset())).contains("ldb  [4]").contains("jgt  #4, 0, 4");
    }

    @Test
    void programBytesAreLittleEndianSockFilters() {
        assumeTrue(ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN, "x86_64/aarch64 layout");
        byte[] program = ReusePortSteering.program(1);
        // ld len; jgt #2,0,4; ldb [0]; jset #0x80,2,0; ldb [2]; ret a; ret #-1
        assertThat(java.util.HexFormat.of().formatHex(program)).isEqualTo(
                "8000000000000000"
                        + "2500000402000000"
                        + "3000000000000000"
                        + "4500020080000000"
                        + "3000000002000000"
                        + "1600000000000000"
                        + "06000000ffffffff");
    }

    @Test
    void interpreterAgreesOnATableOfPackets() {
        byte[] program = ReusePortSteering.program(ids);
        int p = 1 + ids.slotOffset();
        record Row(String name, byte[] packet, long expected) {
        }
        List<Row> table = List.of(
                new Row("Initial (long header)", initial(), HASH),
                new Row("Handshake (long header)", longHeader(0xE0, 1200), HASH),
                new Row("short header, slot 0", shortHeader(0), 0),
                new Row("short header, slot 1", shortHeader(1), 1),
                new Row("short header, slot 5", shortHeader(5), 5),
                new Row("short header, slot 255", shortHeader(255), 255),
                new Row("short header, key phase and spin bits set", withFirstByte(shortHeader(2), 0x65), 2),
                new Row("truncated short header: no slot byte", truncate(shortHeader(1), p), HASH),
                new Row("truncated short header: ends at the slot byte", truncate(shortHeader(1), p + 1), 1),
                new Row("one-byte short header", new byte[] {0x40}, HASH),
                new Row("one-byte long header", new byte[] {(byte) 0xC0}, HASH),
                new Row("empty datagram", new byte[0], HASH));
        for (Row row : table) {
            assertThat(ClassicBpf.run(program, row.packet())).as(row.name()).isEqualTo(row.expected());
        }
    }

    @Test
    void withoutTheLengthCheckRuntsWouldAllGoToSocketZero() {
        byte[] naive = programWithoutLengthCheck();
        assertThat(ClassicBpf.run(naive, new byte[] {0x40})).isZero();
        assertThat(ClassicBpf.run(naive, new byte[0])).isZero();
        assertThat(ClassicBpf.run(ReusePortSteering.program(ids), new byte[] {0x40})).isEqualTo(HASH);
    }

    /** The program from FACTS.md: {@code ldb [0]; jset #0x80 -> hash; ldb [p]; ret a; hash: ret #-1}. */
    private byte[] programWithoutLengthCheck() {
        int p = 1 + ids.slotOffset();
        ByteBuffer naive = ByteBuffer.allocate(5 * 8).order(ByteOrder.nativeOrder());
        naive.putShort((short) 0x30).put((byte) 0).put((byte) 0).putInt(0);
        naive.putShort((short) 0x45).put((byte) 2).put((byte) 0).putInt(0x80);
        naive.putShort((short) 0x30).put((byte) 0).put((byte) 0).putInt(p);
        naive.putShort((short) 0x16).put((byte) 0).put((byte) 0).putInt(0);
        naive.putShort((short) 0x06).put((byte) 0).put((byte) 0).putInt(-1);
        return naive.array();
    }

    @Test
    void rejectsASlotOffsetOutsideAConnectionId() {
        assertThatThrownBy(() -> ReusePortSteering.program(0)).hasMessage("slot offset: 0 (expected: 1..19)");
        assertThatThrownBy(() -> ReusePortSteering.program(20)).hasMessage("slot offset: 20 (expected: 1..19)");
    }

    // ---- the real kernel ----

    static Stream<Arguments> nativeTransportsAndGroupSizes() {
        return Stream.of(Transport.IO_URING, Transport.EPOLL)
                .flatMap(t -> Stream.of(Arguments.of(t, 2), Arguments.of(t, 3)));
    }

    @ParameterizedTest(name = "{0}, {1} sockets")
    @MethodSource("nativeTransportsAndGroupSizes")
    void kernelDeliversShortHeaderPacketsToTheSocketOfTheirSlot(Transport transport, int sockets) throws Exception {
        assumeTrue(transport.isAvailable(), transport + " not available");
        int port = bindGroup(transport, sockets);
        // A group has one program; attaching it through the last socket proves it applies to all of them.
        ReusePortSteering.attach(channels.get(sockets - 1), ids.slotOffset());

        for (int slot = 0; slot < sockets; slot++) {
            for (int i = 0; i < 16; i++) { // each from a new source port: the hash alone would scatter them
                assertThat(sendAndSeeWhere(port, shortHeader(slot))).as("slot %d, packet %d", slot, i)
                        .isEqualTo(slot);
            }
        }
    }

    @ParameterizedTest(name = "{0}, {1} sockets")
    @MethodSource("nativeTransportsAndGroupSizes")
    void kernelHashesLongHeadersRuntsAndSlotsItDoesNotHave(Transport transport, int sockets) throws Exception {
        assumeTrue(transport.isAvailable(), transport + " not available");
        int port = bindGroup(transport, sockets);
        ReusePortSteering.attach(channels.get(0), ids.slotOffset());

        assertThat(spread(port, ReusePortSteeringTest::initial)).as("Initial packets").hasSizeGreaterThan(1);
        assertThat(spread(port, () -> new byte[] {0x40})).as("one-byte short headers").hasSizeGreaterThan(1);
        assertThat(spread(port, () -> truncate(shortHeader(1), 1 + ids.slotOffset())))
                .as("short headers that end before the slot byte").hasSizeGreaterThan(1);
        assertThat(spread(port, () -> shortHeader(sockets))).as("slot %d of %d sockets", sockets, sockets)
                .hasSizeGreaterThan(1);
    }

    @Test
    void kernelSendsRuntsToSocketZeroWhenAProgramLoadsPastTheEnd() throws Exception {
        // Checks the claim the length check rests on, against the running kernel rather than the interpreter.
        assumeTrue(Transport.EPOLL.isAvailable(), "epoll not available");
        int port = bindGroup(Transport.EPOLL, 2);
        ReusePortSteering.attach(channels.get(0), programWithoutLengthCheck());
        assertThat(spread(port, () -> new byte[] {0x40})).containsExactly(0);
        assertThat(sendAndSeeWhere(port, shortHeader(1))).isEqualTo(1);
    }

    @ParameterizedTest
    @EnumSource(value = Transport.class, names = {"IO_URING", "EPOLL"})
    void supervisorOwnedRawSocketsSteerAfterWorkersAdoptThem(Transport transport) throws Exception {
        assumeTrue(transport.isAvailable(), transport + " not available");
        group = transport.newEventLoopGroup(1, Thread.ofPlatform().daemon().factory());
        int port = 0;
        for (int i = 0; i < 2; i++) {
            Socket socket = Socket.newSocketDgram();
            rawSockets.add(socket);
            socket.setReusePort(true);
            socket.bind(new InetSocketAddress(LOOPBACK, port));
            port = ((InetSocketAddress) socket.localAddress()).getPort();
        }
        ReusePortSteering.attach(rawSockets.get(0), ids.slotOffset());
        for (int i = 0; i < 2; i++) {
            channels.add(Listeners.adoptUdp(transport, group, rawSockets.get(i).intValue(), 1 << 20, recorder(i)));
        }
        rawSockets.clear(); // the channels own the file descriptors now
        for (int i = 0; i < 16; i++) {
            int slot = i % 2;
            assertThat(sendAndSeeWhere(port, shortHeader(slot))).as("packet %d", i).isEqualTo(slot);
        }
    }

    @Test
    void attachingToARawSocketWithoutReusePortExplainsEinval() throws Exception {
        assumeTrue(Transport.EPOLL.isAvailable(), "epoll not available");
        Socket socket = Socket.newSocketDgram();
        rawSockets.add(socket);
        socket.bind(new InetSocketAddress(LOOPBACK, 0));
        assertThatThrownBy(() -> ReusePortSteering.attach(socket, ids.slotOffset()))
                .isInstanceOf(SteeringException.class)
                .hasMessageStartingWith("cannot attach the steering program to UDP socket fd " + socket.intValue()
                        + ": invalid argument (the socket must be bound with SO_REUSEPORT before the program is "
                        + "attached)");
    }

    @Test
    void attachingToASocketWithoutReusePortExplainsEinval() throws Exception {
        assumeTrue(Transport.EPOLL.isAvailable(), "epoll not available");
        group = Transport.EPOLL.newEventLoopGroup(1, Thread.ofPlatform().daemon().factory());
        DatagramChannel channel = Listeners.bindUdp(Transport.EPOLL, group, new InetSocketAddress(LOOPBACK, 0), false,
                1 << 20, recorder(0));
        channels.add(channel);
        assertThatThrownBy(() -> ReusePortSteering.attach(channel, ids.slotOffset()))
                .isInstanceOf(SteeringException.class)
                .hasMessageContaining("cannot attach the steering program to UDP socket fd ")
                .hasMessageContaining("invalid argument (the socket must be bound with SO_REUSEPORT before the "
                        + "program is attached)")
                .hasMessageContaining("--steering off");
    }

    @Test
    void nioCannotAttachAndSaysSo() {
        group = Transport.NIO.newEventLoopGroup(1, Thread.ofPlatform().daemon().factory());
        DatagramChannel channel = Listeners.bindUdp(Transport.NIO, group, new InetSocketAddress(LOOPBACK, 0), true,
                1 << 20, recorder(0));
        channels.add(channel);
        assertThatThrownBy(() -> ReusePortSteering.attach(channel, ids.slotOffset()))
                .isInstanceOf(SteeringException.class)
                .hasMessage("cannot attach the steering program to NioDatagramChannel: the nio transport cannot set "
                        + "SO_ATTACH_REUSEPORT_CBPF (expected: io_uring or epoll; or run with --steering off)");
    }

    // ---- helpers ----

    private int bindGroup(Transport transport, int sockets) {
        group = transport.newEventLoopGroup(1, Thread.ofPlatform().daemon().factory());
        int port = 0;
        for (int i = 0; i < sockets; i++) {
            DatagramChannel channel = Listeners.bindUdp(transport, group, new InetSocketAddress(LOOPBACK, port), true,
                    1 << 20, recorder(i));
            channels.add(channel);
            port = channel.localAddress().getPort();
        }
        return port;
    }

    private ChannelHandler recorder(int index) {
        return new SimpleChannelInboundHandler<DatagramPacket>() {
            @Override
            protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket packet) {
                arrivals.add(index);
            }
        };
    }

    /** Sends {@code payload} from a fresh source port and returns the index of the socket that received it. */
    private int sendAndSeeWhere(int port, byte[] payload) throws Exception {
        try (DatagramSocket client = new DatagramSocket(new InetSocketAddress(LOOPBACK, 0))) {
            client.send(new java.net.DatagramPacket(payload, payload.length, new InetSocketAddress(LOOPBACK, port)));
        }
        Integer index = arrivals.poll(5, TimeUnit.SECONDS);
        assertThat(index).as("datagram arrived within 5 s").isNotNull();
        return index;
    }

    private Set<Integer> spread(int port, java.util.function.Supplier<byte[]> packets) throws Exception {
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < SPREAD_SAMPLES && seen.size() < channels.size(); i++) {
            seen.add(sendAndSeeWhere(port, packets.get()));
        }
        return seen;
    }

    private byte[] shortHeader(int slot) {
        byte[] cid = ids.newId(1, slot & 0xFF);
        cid[ids.slotOffset()] = (byte) slot; // newId validates 0..255; tests also send slots the group lacks
        byte[] packet = new byte[1 + cid.length + 30];
        ThreadLocalRandom.current().nextBytes(packet);
        packet[0] = 0x40; // short header, fixed bit
        System.arraycopy(cid, 0, packet, 1, cid.length);
        return packet;
    }

    private static byte[] initial() {
        return longHeader(0xC0, 1200);
    }

    private static byte[] longHeader(int firstByte, int size) {
        byte[] packet = new byte[size];
        ThreadLocalRandom.current().nextBytes(packet);
        packet[0] = (byte) firstByte;
        packet[1] = 0;
        packet[2] = 0;
        packet[3] = 0;
        packet[4] = 1; // version 1
        packet[5] = 8; // DCID length
        return packet;
    }

    private static byte[] withFirstByte(byte[] packet, int firstByte) {
        packet[0] = (byte) firstByte;
        return packet;
    }

    private static byte[] truncate(byte[] packet, int length) {
        return java.util.Arrays.copyOf(packet, length);
    }
}
