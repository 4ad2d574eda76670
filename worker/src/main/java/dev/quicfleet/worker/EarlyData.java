package dev.quicfleet.worker;

import dev.quicfleet.metrics.EarlyDataOutcome;
import dev.quicfleet.metrics.WorkerMetrics;
import dev.quicfleet.ticketcache.ReplayCheck;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DatagramPacket;
import io.netty.handler.codec.quic.BoringSSLKeylog;
import io.netty.handler.codec.quic.QuicChannel;
import io.netty.handler.codec.quic.QuicConnectionAddress;
import io.netty.handler.codec.quic.QuicConnectionStats;
import io.netty.util.AttributeKey;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.SSLEngine;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * TLS 1.3 early data (0-RTT) on HTTP/3: which requests arrive early, which of them may run before the handshake
 * completes ({@link EarlyDataPolicy}), and the replay register.
 *
 * <p>Netty 4.2.18 and quiche give a server no per-connection early-data API. What they do (measured here with the
 * ngtcp2 client): a server {@link QuicChannel} turns active, and surfaces the request streams the client sent in
 * 0-RTT, only once the client's Finished has arrived; a replayed first flight (whose sender lacks the client's keys)
 * never gets that far. So early requests never run before the handshake completes on this Netty version, and a
 * replay never runs at all. This class still tells the early requests apart, and keeps the replay register, so the
 * policy and the counts hold whatever the transport does:
 * <ul>
 *   <li><b>acceptance</b>: BoringSSL derives the client early traffic secret only when it accepts the client's early
 *       data, and reports it, with the client random, through the keylog callback ({@link #keylog()}); the secret
 *       itself is never kept or logged. The client random is the replay register's key: the first worker of the
 *       cluster to record it gets {@link ReplayCheck#FIRST_USE}; a first flight seen before is counted as
 *       {@code replayed} right there.</li>
 *   <li><b>confirmation</b>: the client proves it holds the handshake keys once one of its Handshake or 1-RTT packets
 *       decrypts. A handler ahead of the QUIC codec ({@link #confirmationWatcher()}) compares the connection's count
 *       of processed packets before and after each datagram addressed to a connection still awaiting confirmation:
 *       more packets processed than the datagram held Initial and 0-RTT packets (which a replay can carry) means a
 *       Handshake or 1-RTT packet decrypted. A forged packet never decrypts.</li>
 * </ul>
 * A request that surfaces before the connection's first confirmation is early ({@code earlyData} in
 * {@link ConnectionInfo}: it was sent in 0-RTT and the server accepted that early data). It runs at once when the
 * policy allows its method and the replay register saw this first flight for the first time; otherwise it waits for
 * the next confirmation (one more client packet).
 *
 * <p>Everything runs on the event loop of the worker's UDP channel, which all its QUIC connections share.
 */
final class EarlyData {

    private static final Logger log = LoggerFactory.getLogger(EarlyData.class);
    private static final AttributeKey<Handshake> HANDSHAKE = AttributeKey.valueOf("quicfleet.h3.earlyData");
    private static final String EARLY_SECRET = "CLIENT_EARLY_TRAFFIC_SECRET ";
    /** Hex digits of a TLS client random (32 bytes). */
    private static final int CLIENT_RANDOM_HEX = 64;
    private static final int QUIC_V1 = 1;

    /** How long a lone worker remembers a client random: BoringSSL's default TLS 1.3 ticket lifetime is 7 days at
     * most, but a lone worker's ticket keys live only as long as its process; 12 hours matches the cluster default. */
    static final java.time.Duration LOCAL_REGISTER_TTL = java.time.Duration.ofHours(12);
    /** Client randoms a lone worker remembers; beyond it, early requests wait for the handshake (fail closed). */
    static final int LOCAL_REGISTER_CAPACITY = 200_000;

    /** Checks one client random against the replay register. */
    @FunctionalInterface
    interface ReplayRegister {
        ReplayCheck firstUse(byte[] clientRandom);
    }

    /** What happened to one request. */
    enum Admission {
        /** Not early data: the handshake was confirmed before the request arrived. */
        NOT_EARLY,
        /** Early, and runs now. */
        ACCEPTED,
        /** Early, waits for the handshake to be confirmed. */
        DEFERRED,
        /** Early on a replayed first flight: waits for a confirmation that a replay never brings. */
        REPLAYED
    }

    /**
     * An in-process replay register, for a worker without the cluster's shared map. Full means
     * {@link ReplayCheck#FULL} (fail closed) until records expire.
     */
    static ReplayRegister localReplayRegister(java.time.Duration ttl, int capacity) {
        return localReplayRegister(ttl, capacity, System::nanoTime);
    }

    /** {@link #localReplayRegister(java.time.Duration, int)} on the given nanosecond clock. */
    static ReplayRegister localReplayRegister(java.time.Duration ttl, int capacity,
                                              java.util.function.LongSupplier nanoClock) {
        java.util.LinkedHashMap<java.nio.ByteBuffer, Long> seen = new java.util.LinkedHashMap<>();
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
                java.nio.ByteBuffer key = java.nio.ByteBuffer.wrap(clientRandom.clone());
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
    private final int shortHeaderIdLength;
    private volatile ReplayRegister register;
    /** Early data accepted in the TLS handshake, until the connection turns active. */
    private final Map<SSLEngine, Handshake> accepted = new ConcurrentHashMap<>();
    /** Active connections with accepted early data awaiting confirmation, by the server's connection id. */
    private final Map<QuicConnectionAddress, Handshake> unconfirmed = new ConcurrentHashMap<>();

    /**
     * @param shortHeaderIdLength the length of this server's connection ids (short headers carry no length)
     * @param register            the replay register (replaced by {@link #replayRegister} once the shared map is
     *                            open)
     */
    EarlyData(EarlyDataPolicy policy, WorkerMetrics metrics, int shortHeaderIdLength, ReplayRegister register) {
        this.policy = policy;
        this.metrics = metrics;
        this.shortHeaderIdLength = shortHeaderIdLength;
        this.register = register;
    }

    EarlyDataPolicy policy() {
        return policy;
    }

    /** Switches the replay register (to the cluster's shared one, once its map is open). */
    void replayRegister(ReplayRegister register) {
        this.register = register;
    }

    /** The keylog callback of the QUIC TLS context: notes accepted early data and checks the replay register. */
    BoringSSLKeylog keylog() {
        return (engine, line) -> {
            if (!line.startsWith(EARLY_SECRET) || line.length() < EARLY_SECRET.length() + CLIENT_RANDOM_HEX) {
                return;
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
            if (verdict == ReplayCheck.REPLAYED) {
                metrics.earlyData(EarlyDataOutcome.REPLAYED); // its requests never run: counted per handshake
            }
            accepted.put(engine, new Handshake(verdict));
        };
    }

    /** A QUIC connection turned active: starts waiting for its confirmation if it accepted early data. */
    void connectionActive(QuicChannel connection) {
        Handshake handshake = accepted.remove(connection.sslEngine());
        if (handshake == null) {
            return;
        }
        connection.attr(HANDSHAKE).set(handshake);
        QuicConnectionAddress id = connection.localAddress();
        if (id == null) {
            handshake.confirm(); // cannot be watched; never happens on an open connection
            return;
        }
        handshake.connection = connection;
        handshake.id = id;
        unconfirmed.put(id, handshake);
    }

    /** A QUIC connection closed: requests still waiting for confirmation are dropped with it. */
    void connectionClosed(QuicChannel connection) {
        accepted.remove(connection.sslEngine());
        Handshake handshake = connection.attr(HANDSHAKE).getAndSet(null);
        if (handshake != null) {
            if (handshake.id != null) {
                unconfirmed.remove(handshake.id);
            }
            handshake.abandon();
        }
    }

    /**
     * Decides for a request whose headers just arrived, and counts the outcome. A request that is not
     * {@link Admission#NOT_EARLY} or {@link Admission#ACCEPTED} must be started through {@link #whenConfirmed}.
     */
    Admission admit(QuicChannel connection, String method, boolean hasBody) {
        Handshake handshake = connection.attr(HANDSHAKE).get();
        if (handshake == null || handshake.confirmed) {
            return Admission.NOT_EARLY;
        }
        Admission admission;
        if (handshake.verdict == ReplayCheck.REPLAYED) {
            admission = Admission.REPLAYED; // counted when the handshake was checked
        } else if (handshake.verdict.firstUse() && policy.mayRunEarly(method, hasBody)) {
            admission = Admission.ACCEPTED;
            metrics.earlyData(EarlyDataOutcome.ACCEPTED);
        } else {
            admission = Admission.DEFERRED;
            metrics.earlyData(EarlyDataOutcome.DEFERRED);
        }
        return admission;
    }

    /** Runs {@code task} once the connection's handshake is confirmed (at once if it is). */
    void whenConfirmed(QuicChannel connection, Runnable task) {
        Handshake handshake = connection.attr(HANDSHAKE).get();
        if (handshake == null || handshake.confirmed) {
            task.run();
        } else {
            handshake.waiting.add(task);
        }
    }

    /** Connections awaiting confirmation (for tests and the drain log). */
    int awaitingConfirmation() {
        return unconfirmed.size();
    }

    /** The handler to put ahead of the QUIC codec on the UDP channel. */
    ChannelHandler confirmationWatcher() {
        return new ConfirmationWatcher();
    }

    private final class ConfirmationWatcher extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (unconfirmed.isEmpty() || !(msg instanceof DatagramPacket packet)) {
                ctx.fireChannelRead(msg);
                return;
            }
            ByteBuf datagram = packet.content();
            Handshake handshake = lookup(datagram);
            if (handshake == null) {
                ctx.fireChannelRead(msg);
                return;
            }
            int replayable = replayablePackets(datagram);
            long before = processedPackets(handshake.connection);
            ctx.fireChannelRead(msg); // the QUIC codec processes the datagram before this returns
            long after = processedPackets(handshake.connection);
            if (before >= 0 && after - before > replayable) {
                unconfirmed.remove(handshake.id);
                handshake.confirm();
            }
        }
    }

    private Handshake lookup(ByteBuf datagram) {
        int start = datagram.readerIndex();
        int end = datagram.writerIndex();
        if (end - start < 1 + shortHeaderIdLength) {
            return null;
        }
        int first = datagram.getUnsignedByte(start);
        int idOffset;
        int idLength;
        if ((first & 0x80) == 0) {
            idOffset = start + 1;
            idLength = shortHeaderIdLength;
        } else {
            if (end - start < 7) {
                return null;
            }
            idLength = datagram.getUnsignedByte(start + 5);
            idOffset = start + 6;
            if (idLength > 20 || idOffset + idLength > end) {
                return null;
            }
        }
        byte[] id = new byte[idLength];
        datagram.getBytes(idOffset, id);
        return unconfirmed.get(new QuicConnectionAddress(id));
    }

    /**
     * Initial and 0-RTT packets in a datagram (RFC 9000 §12.2: long-header packets may be coalesced; a short-header
     * packet ends the datagram). These are the packets a replayed first flight can make the server process.
     */
    static int replayablePackets(ByteBuf received) {
        // A view of exactly the datagram: a field that runs past its end throws (caught below) instead of reading what
        // follows it in the receive buffer (EarlyDataFuzzTest).
        ByteBuf datagram = received.slice();
        int i = datagram.readerIndex();
        int end = datagram.writerIndex();
        int count = 0;
        try {
            while (end - i >= 7) {
                int first = datagram.getUnsignedByte(i);
                if ((first & 0x80) == 0 || datagram.getInt(i + 1) != QUIC_V1) {
                    return count;
                }
                int type = (first >> 4) & 0x3; // v1: 0 Initial, 1 0-RTT, 2 Handshake, 3 Retry
                if (type == 3) {
                    return count;
                }
                int p = i + 6 + datagram.getUnsignedByte(i + 5);
                p += 1 + datagram.getUnsignedByte(p);
                if (type == 0) {
                    long tokenLength = varint(datagram, p);
                    count++;
                    if (tokenLength > end) {
                        // as an int it could be negative and send the walk back to where it was, forever on the
                        // event loop (EarlyDataFuzzTest keeps such a datagram)
                        return count;
                    }
                    p += varintLength(datagram, p) + (int) tokenLength;
                } else if (type == 1) {
                    count++;
                }
                long length = varint(datagram, p);
                if (length < 0 || length > end) {
                    return count;
                }
                i = p + varintLength(datagram, p) + (int) length;
            }
        } catch (IndexOutOfBoundsException malformed) {
            // the codec drops it; what was counted so far is an upper bound of what it can process
        }
        return count;
    }

    private static int varintLength(ByteBuf buf, int at) {
        return 1 << (buf.getUnsignedByte(at) >> 6);
    }

    private static long varint(ByteBuf buf, int at) {
        int length = varintLength(buf, at);
        long value = buf.getUnsignedByte(at) & 0x3f;
        for (int k = 1; k < length; k++) {
            value = (value << 8) | buf.getUnsignedByte(at + k);
        }
        return value;
    }

    /** Packets the connection has processed (decrypted and handled), or -1 if unknown. */
    private static long processedPackets(QuicChannel connection) {
        var stats = connection.collectStats(); // synchronous on the connection's event loop
        QuicConnectionStats now = stats.getNow();
        return now == null ? -1 : now.recv();
    }

    /** One connection's early-data state; confined to the event loop. */
    private static final class Handshake {
        final ReplayCheck verdict;
        final List<Runnable> waiting = new ArrayList<>(1);
        QuicChannel connection;
        QuicConnectionAddress id;
        boolean confirmed;

        Handshake(ReplayCheck verdict) {
            this.verdict = verdict;
        }

        void confirm() {
            confirmed = true;
            for (Runnable task : waiting) {
                task.run();
            }
            waiting.clear();
        }

        void abandon() {
            waiting.clear();
        }
    }
}
