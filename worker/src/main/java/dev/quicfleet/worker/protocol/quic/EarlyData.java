package dev.quicfleet.worker.protocol.quic;

import dev.quicfleet.metrics.EarlyDataOutcome;
import dev.quicfleet.metrics.WorkerMetrics;
import dev.quicfleet.ticketcache.ReplayCheck;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DatagramPacket;
import io.netty.handler.codec.quic.BoringSSLKeylog;
import io.netty.handler.codec.quic.QuicChannel;
import io.netty.util.AttributeKey;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import javax.net.ssl.SSLEngine;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * TLS 1.3 early data (0-RTT) on HTTP/3: early requests run while the client's first flight is processed, so a safe
 * request is answered in the server's first flight (one round trip), and the replay register and
 * {@link EarlyDataPolicy} decide which early requests may run before the handshake completes.
 *
 * <p><b>What counts as early.</b> A server {@link QuicChannel} turns active only once the client's Finished has been
 * verified (Netty fires {@code channelActive} when quiche reports the connection established), and a replayed first
 * flight, whose sender lacks the client's keys, never gets there. A request stream that surfaces while its connection
 * is not active arrived in 0-RTT packets and the server accepted that early data; one that surfaces later did not
 * (a client that offers early data but sends its request in 1-RTT packets with its Finished is not early, even
 * though BoringSSL accepted the offer). {@code channelActive} is the confirmation that deferred requests wait for.
 *
 * <p><b>Surfacing early streams (Netty 4.2.18).</b> Netty hands out request streams only when a {@code read()} was
 * requested and {@code processReceived} saw readable streams after a {@code quiche_conn_recv}
 * ({@code QuicheQuicChannel.recvStream}). Two things keep 0-RTT requests back until the client's Finished:
 * <ol>
 *   <li>auto-read issues the first {@code read()} only at {@code channelActive}: {@link #connectionStarted} calls
 *       {@code read()} when the connection is registered ({@code doBeginRead} does not check {@code isActive()});</li>
 *   <li>Netty's certificate callback suspends the handshake on its first call ({@code netty_quic_boringssl.c}), so
 *       during the first {@code quiche_conn_recv} the 0-RTT key does not exist yet and quiche buffers the 0-RTT packet
 *       that came with the Initial. The handshake resumes in {@code connectionSend} when the codec's read cycle
 *       completes, which decrypts the buffered packet, but Netty looks for readable streams again only when the next
 *       datagram arrives: the client's Finished, one round trip later. {@link #firstFlightReader()}, the handler
 *       just ahead of the codec, therefore feeds the codec, after the read cycle of a datagram that carried a 0-RTT
 *       packet, one tiny datagram for the same connection id that quiche discards (a long header with a reserved
 *       version): Netty runs {@code processReceived} for it, surfaces the early streams, and the next read-complete
 *       flushes their responses. The codec never answers it (the connection exists, so no Version Negotiation).
 *       Upstream: Netty could call {@code processReceived} after {@code connectionSend} resumed a suspended
 *       handshake; until it does, this is the smallest fix without private names.</li>
 * </ol>
 *
 * <p><b>Replays.</b> BoringSSL derives the client early traffic secret only when it accepts the client's early data
 * and reports it, with the client random, through the keylog callback ({@link #keylog()}); the secret itself is never
 * kept or logged. The client random is the replay register's key: the first worker of the cluster to record it gets
 * {@link ReplayCheck#FIRST_USE}; a first flight seen before is counted as {@code replayed} and its connection is
 * closed at once, so none of its requests ever runs.
 *
 * <p>Anti-amplification (RFC 9000 §8.1: three times the client's bytes before its address is validated) caps what
 * the first flight can carry: a response of about 2 KB completes in one round trip, a larger one only starts in it.
 *
 * <p>Everything runs on the event loop of the worker's UDP channel, which all its QUIC connections share.
 */
public final class EarlyData {

    private static final Logger log = LoggerFactory.getLogger(EarlyData.class);
    private static final AttributeKey<Handshake> HANDSHAKE = AttributeKey.valueOf("quicfleet.h3.earlyData");
    private static final String EARLY_SECRET = "CLIENT_EARLY_TRAFFIC_SECRET ";
    /** Hex digits of a TLS client random (32 bytes). */
    private static final int CLIENT_RANDOM_HEX = 64;
    private static final int QUIC_V1 = 1;
    /** A reserved version (RFC 9000 §15): quiche discards a packet of it on an existing connection. */
    private static final int RESERVED_VERSION = 0x1a2a3a4a;
    /** RFC 9000 §20.1 CONNECTION_REFUSED: sent to a replayed first flight. */
    private static final int CONNECTION_REFUSED = 0x2;
    /** First flights with 0-RTT per read cycle that get a nudge; more wait for their client's next datagram. */
    private static final int MAX_NUDGES_PER_READ = 64;

    /** How long a lone worker remembers a client random: BoringSSL's default TLS 1.3 ticket lifetime is 7 days at
     * most, but a lone worker's ticket keys live only as long as its process; 12 hours matches the cluster default. */
    public static final Duration LOCAL_REGISTER_TTL = Duration.ofHours(12);
    /** Client randoms a lone worker remembers; beyond it, early requests wait for the handshake (fail closed). */
    public static final int LOCAL_REGISTER_CAPACITY = 200_000;

    /** Checks one client random against the replay register. */
    @FunctionalInterface
    public interface ReplayRegister {
        ReplayCheck firstUse(byte[] clientRandom);
    }

    /** What happens to one request. */
    public enum Admission {
        /** Not early data: the request arrived after the handshake completed. */
        NOT_EARLY,
        /** Early, and runs now. */
        ACCEPTED,
        /** Early, waits for the handshake to complete. */
        DEFERRED,
        /** Early, and answered with 425 Too Early (RFC 8470) under {@link EarlyDataPolicy#TOO_EARLY}. */
        TOO_EARLY,
        /** Early on a replayed first flight: never runs; its connection is being closed. */
        REPLAYED
    }

    /**
     * An in-process replay register, for a worker without the cluster's shared map. Full means
     * {@link ReplayCheck#FULL} (fail closed) until records expire.
     */
    public static ReplayRegister localReplayRegister(Duration ttl, int capacity) {
        return localReplayRegister(ttl, capacity, System::nanoTime);
    }

    /** {@link #localReplayRegister(Duration, int)} on the given nanosecond clock. */
    public static ReplayRegister localReplayRegister(Duration ttl, int capacity, LongSupplier nanoClock) {
        LinkedHashMap<ByteBuffer, Long> seen = new LinkedHashMap<>();
        return clientRandom -> {
            long now = nanoClock.getAsLong();
            synchronized (seen) {
                var oldest = seen.entrySet().iterator();
                while (oldest.hasNext()) {
                    if (now - oldest.next().getValue() < 0) {
                        break;
                    }
                    oldest.remove();
                }
                ByteBuffer key = ByteBuffer.wrap(clientRandom.clone());
                if (seen.containsKey(key)) {
                    return ReplayCheck.REPLAYED;
                }
                if (seen.size() >= capacity) {
                    return ReplayCheck.FULL;
                }
                seen.put(key, now + ttl.toNanos());
                return ReplayCheck.FIRST_USE;
            }
        };
    }

    private final EarlyDataPolicy policy;
    private final WorkerMetrics metrics;
    private volatile ReplayRegister register;
    /** Connections whose handshake is in progress, by TLS engine: the keylog callback knows only the engine. */
    private final Map<SSLEngine, Handshake> handshaking = new ConcurrentHashMap<>();

    /**
     * @param register the replay register (replaced by {@link #replayRegister} once the shared map is open)
     */
    public EarlyData(EarlyDataPolicy policy, WorkerMetrics metrics, ReplayRegister register) {
        this.policy = policy;
        this.metrics = metrics;
        this.register = register;
    }

    EarlyDataPolicy policy() {
        return policy;
    }

    /** Switches the replay register (to the cluster's shared one, once its map is open). */
    public void replayRegister(ReplayRegister register) {
        this.register = register;
    }

    /** The keylog callback of the QUIC TLS context: notes accepted early data and checks the replay register. */
    public BoringSSLKeylog keylog() {
        return (engine, line) -> {
            if (!line.startsWith(EARLY_SECRET) || line.length() < EARLY_SECRET.length() + CLIENT_RANDOM_HEX) {
                return;
            }
            Handshake handshake = handshaking.get(engine);
            if (handshake == null) {
                return; // not a connection of ours (or already gone): its requests count as not verified
            }
            byte[] clientRandom;
            try {
                clientRandom = HexFormat.of().parseHex(line, EARLY_SECRET.length(),
                        EARLY_SECRET.length() + CLIENT_RANDOM_HEX);
            } catch (IllegalArgumentException e) {
                return;
            }
            ReplayCheck verdict;
            try {
                verdict = register.firstUse(clientRandom);
            } catch (RuntimeException e) {
                log.debug("replay register failed, early requests will wait for the handshake: {}", e.toString());
                verdict = ReplayCheck.UNAVAILABLE;
            }
            handshake.verdict = verdict;
            if (verdict == ReplayCheck.REPLAYED) {
                metrics.earlyData(EarlyDataOutcome.REPLAYED); // counted per handshake: its requests never run
                QuicChannel connection = handshake.connection;
                // not from inside BoringSSL's callback: on the event loop, right after this datagram
                connection.eventLoop().execute(() -> connection.close(false, CONNECTION_REFUSED,
                        Unpooled.copiedBuffer("replayed 0-RTT", StandardCharsets.US_ASCII)));
            }
        };
    }

    /**
     * A QUIC connection was created by the codec, before its first packet is processed: attaches its early-data
     * state and asks for its streams now, so early requests can surface before the handshake completes.
     */
    void connectionStarted(QuicChannel connection) {
        if (policy == EarlyDataPolicy.OFF) {
            return;
        }
        Handshake handshake = new Handshake(connection);
        connection.attr(HANDSHAKE).set(handshake);
        handshaking.put(connection.sslEngine(), handshake);
        // Netty fires no channelInactive for a connection that never turned active (a replay closed here, an
        // abandoned handshake): its close is what ends its state
        connection.closeFuture().addListener(f -> connectionClosed(connection));
        connection.read(); // Netty's auto-read would ask only at channelActive, one round trip later
    }

    /** A QUIC connection's handshake completed (the client's Finished verified): deferred early requests run. */
    void connectionActive(QuicChannel connection) {
        Handshake handshake = connection.attr(HANDSHAKE).getAndSet(null);
        if (handshake != null) {
            handshaking.remove(connection.sslEngine());
            handshake.confirm();
        }
    }

    /** A QUIC connection closed: requests still waiting for the handshake are dropped with it. */
    void connectionClosed(QuicChannel connection) {
        Handshake handshake = connection.attr(HANDSHAKE).getAndSet(null);
        if (handshake != null) {
            handshaking.remove(connection.sslEngine());
            handshake.waiting.clear();
        }
    }

    /**
     * Decides for a request whose headers just arrived, and counts the outcome. {@link Admission#DEFERRED} requests
     * must be started through {@link #whenConfirmed}; {@link Admission#TOO_EARLY} ones are answered with 425;
     * {@link Admission#REPLAYED} ones are dropped.
     */
    Admission admit(QuicChannel connection, String method, boolean hasBody) {
        if (connection.isActive()) {
            return Admission.NOT_EARLY;
        }
        Handshake handshake = connection.attr(HANDSHAKE).get();
        ReplayCheck verdict = handshake == null ? ReplayCheck.UNAVAILABLE : handshake.verdict;
        if (verdict == ReplayCheck.REPLAYED) {
            return Admission.REPLAYED; // counted when the handshake was checked
        }
        if (verdict.firstUse() && policy.mayRunEarly(method, hasBody)) {
            metrics.earlyData(EarlyDataOutcome.ACCEPTED);
            return Admission.ACCEPTED;
        }
        if (policy == EarlyDataPolicy.TOO_EARLY) {
            metrics.earlyData(EarlyDataOutcome.TOO_EARLY);
            return Admission.TOO_EARLY;
        }
        metrics.earlyData(EarlyDataOutcome.DEFERRED);
        return Admission.DEFERRED;
    }

    /** Runs {@code task} once the connection's handshake has completed (at once if it has). */
    void whenConfirmed(QuicChannel connection, Runnable task) {
        afterHandshake(connection, task);
    }

    /**
     * Runs {@code task} on the connection's event loop once its handshake has completed (at once if it has); returns
     * {@code false} when it never will (the connection closed before its handshake completed). Call on that loop.
     */
    static boolean afterHandshake(QuicChannel connection, Runnable task) {
        if (connection.isActive()) {
            task.run();
            return true;
        }
        Handshake handshake = connection.attr(HANDSHAKE).get();
        if (handshake != null) {
            handshake.waiting.add(task);
            return true;
        }
        return false; // the connection closed before its handshake completed: the task never runs
    }

    /** Connections whose handshake is in progress with early data possible (for tests and the drain log). */
    int handshaking() {
        return handshaking.size();
    }

    /** The handler to put just ahead of the QUIC codec on the UDP channel; see the class comment. */
    public ChannelHandler firstFlightReader() {
        return new FirstFlightReader();
    }

    private final class FirstFlightReader extends ChannelInboundHandlerAdapter {
        private final List<DatagramPacket> nudges = new ArrayList<>();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            // (a short-header packet, nearly every datagram, is told apart by its first byte)
            if (policy != EarlyDataPolicy.OFF && nudges.size() < MAX_NUDGES_PER_READ
                    && msg instanceof DatagramPacket packet) {
                ByteBuf nudge = nudgeFor(packet.content());
                if (nudge != null) {
                    nudges.add(new DatagramPacket(nudge, packet.recipient(), packet.sender()));
                }
            }
            ctx.fireChannelRead(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.fireChannelReadComplete(); // the codec resumes suspended handshakes and decrypts buffered 0-RTT
            if (nudges.isEmpty()) {
                return;
            }
            for (DatagramPacket nudge : nudges) {
                ctx.fireChannelRead(nudge); // the codec surfaces the early streams and releases the nudge
            }
            nudges.clear();
            ctx.fireChannelReadComplete(); // and flushes what their handlers wrote
        }

        @Override
        public void handlerRemoved(ChannelHandlerContext ctx) {
            nudges.forEach(DatagramPacket::release);
            nudges.clear();
        }
    }

    /**
     * A datagram quiche discards, for the connection of {@code datagram} if it carries a QUIC v1 0-RTT packet (RFC
     * 9000 §12.2: long-header packets may be coalesced; a short-header packet ends the datagram); else null.
     */
    static ByteBuf nudgeFor(ByteBuf datagram) {
        int dcidAt = zeroRttConnectionIdOffset(datagram);
        if (dcidAt < 0) {
            return null;
        }
        int dcidLength = datagram.getUnsignedByte(dcidAt - 1);
        ByteBuf nudge = Unpooled.directBuffer(7 + dcidLength);
        nudge.writeByte(0xe0); // long header, fixed bit, the v1 type bits of Handshake: never an Initial
        nudge.writeInt(RESERVED_VERSION);
        nudge.writeByte(dcidLength);
        nudge.writeBytes(datagram, dcidAt, dcidLength);
        nudge.writeByte(0); // no source connection id
        return nudge;
    }

    /**
     * The offset of the destination connection id in {@code datagram} if the datagram carries a QUIC v1 0-RTT packet
     * (the id of its first packet, which all coalesced packets share), else -1. Never reads out of bounds.
     */
    static int zeroRttConnectionIdOffset(ByteBuf datagram) {
        int start = datagram.readerIndex();
        int end = datagram.writerIndex();
        int i = start;
        while (end - i >= 7) {
            int first = datagram.getUnsignedByte(i);
            if ((first & 0x80) == 0 || datagram.getInt(i + 1) != QUIC_V1) {
                return -1;
            }
            int type = (first >> 4) & 0x3; // v1: 0 Initial, 1 0-RTT, 2 Handshake, 3 Retry
            int dcidLength = datagram.getUnsignedByte(i + 5);
            if (type == 3 || dcidLength > 20) {
                return -1;
            }
            if (type == 1) {
                int firstIdLength = datagram.getUnsignedByte(start + 5);
                return start + 6 + firstIdLength <= end ? start + 6 : -1;
            }
            int p = i + 6 + dcidLength;
            if (p >= end) {
                return -1;
            }
            p += 1 + datagram.getUnsignedByte(p); // source connection id
            if (type == 0) {
                if (p >= end) {
                    return -1;
                }
                long tokenLength = varint(datagram, p, end);
                int tokenAt = p + varintLength(datagram, p);
                if (tokenLength < 0 || tokenLength > end - tokenAt) {
                    return -1; // never an int overflow that walks back
                }
                p = tokenAt + (int) tokenLength;
            }
            if (p >= end) {
                return -1;
            }
            long length = varint(datagram, p, end);
            if (length < 0) {
                return -1;
            }
            long next = p + varintLength(datagram, p) + length;
            if (next > end) {
                return -1;
            }
            i = (int) next;
        }
        return -1;
    }

    private static int varintLength(ByteBuf buf, int at) {
        return 1 << (buf.getUnsignedByte(at) >> 6);
    }

    /** The variable-length integer at {@code at}, or -1 if it runs past {@code end}. */
    private static long varint(ByteBuf buf, int at, int end) {
        int length = varintLength(buf, at);
        if (at + length > end) {
            return -1;
        }
        long value = buf.getUnsignedByte(at) & 0x3f;
        for (int k = 1; k < length; k++) {
            value = (value << 8) | buf.getUnsignedByte(at + k);
        }
        return value;
    }

    /** One connection's early-data state until its handshake completes; confined to the event loop. */
    private static final class Handshake {
        final QuicChannel connection;
        final List<Runnable> waiting = new ArrayList<>(1);
        /** The replay register's verdict once BoringSSL accepted early data; none until then. */
        ReplayCheck verdict = ReplayCheck.UNAVAILABLE;

        Handshake(QuicChannel connection) {
            this.connection = connection;
        }

        void confirm() {
            for (Runnable task : waiting) {
                task.run();
            }
            waiting.clear();
        }
    }
}
