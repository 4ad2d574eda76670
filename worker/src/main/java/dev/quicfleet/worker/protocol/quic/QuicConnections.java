package dev.quicfleet.worker.protocol.quic;

import dev.quicfleet.http.ConnectionInfo;
import dev.quicfleet.http.Protocol;
import dev.quicfleet.metrics.HandshakeFailure;
import dev.quicfleet.metrics.WorkerMetrics;
import dev.quicfleet.transport.AmplificationLimit;
import dev.quicfleet.worker.protocol.ExchangeDispatcher;
import dev.quicfleet.worker.tls.TlsSessions;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.codec.http3.DefaultHttp3GoAwayFrame;
import io.netty.handler.codec.http3.DefaultHttp3SettingsFrame;
import io.netty.handler.codec.http3.Http3;
import io.netty.handler.codec.http3.Http3ErrorCode;
import io.netty.handler.codec.http3.Http3ServerConnectionHandler;
import io.netty.handler.codec.http3.Http3Settings;
import io.netty.handler.codec.quic.QuicChannel;
import io.netty.handler.codec.quic.QuicConnectionStats;
import io.netty.handler.codec.quic.QuicStreamChannel;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The QUIC connections of one worker: sets up each new connection's HTTP/3 handler, remembers the highest request
 * stream id for GOAWAY, and sends GOAWAY / closes them all when the worker drains.
 */
public final class QuicConnections {

    private static final Logger log = LoggerFactory.getLogger(QuicConnections.class);
    private static final AttributeKey<ConnectionInfo> INFO = AttributeKey.valueOf("quicfleet.h3.info");
    private static final AttributeKey<long[]> MAX_STREAM_ID = AttributeKey.valueOf("quicfleet.h3.maxStreamId");
    /** The handshake deadline of a connection in its handshake, cancelled when it completes. */
    private static final AttributeKey<Future<?>> HANDSHAKE_DEADLINE = AttributeKey.valueOf("quicfleet.h3.deadline");
    /** Packets sent and lost already counted for a connection: the metrics get deltas. */
    private static final AttributeKey<long[]> COUNTED = AttributeKey.valueOf("quicfleet.h3.countedPackets");
    /** RFC 9000 §20.1 CONNECTION_REFUSED: sent to connections that arrive while draining. */
    private static final int CONNECTION_REFUSED = 0x2;
    /** Requests a connection whose handshake completes during the drain may still send (GOAWAY admits them). */
    private static final long LATE_CONNECTION_STREAMS = 16;

    private final ChannelGroup connections = new DefaultChannelGroup("quic", GlobalEventExecutor.INSTANCE);
    private final ExchangeDispatcher dispatcher;
    private final long maxFieldSectionSize;
    private final EarlyData earlyData;
    /**
     * How long a drain waits for the handshakes that were in progress when it began. A client that is really
     * connecting completes within a round trip or two (500 ms covers round trips of 300 ms); one that never will (an
     * abandoned or forged handshake) must not hold the drain, and so the worker's exit, until its handshake deadline.
     * A slower client whose handshake is cut off here retries, and reaches a worker that is not draining.
     */
    static final Duration DRAIN_HANDSHAKE_GRACE = Duration.ofMillis(500);

    /** Connections whose handshake is in progress; removing one settles its handshake (exactly once). */
    private final Set<QuicChannel> handshaking = ConcurrentHashMap.newKeySet();
    /** Handshakes that were in progress when the drain began: they complete and are served, not refused. */
    private final Set<QuicChannel> beganBeforeDrain = ConcurrentHashMap.newKeySet();
    /** Completes with whether a handshake that began before the drain completed and was admitted. */
    private final CompletableFuture<Boolean> handshakesBeforeDrainDone = new CompletableFuture<>();
    private volatile boolean lateConnectionAdmitted;
    private volatile boolean draining;
    private final Duration handshakeTimeout;
    private final long bodyMinRate;
    /** Whether SETTINGS_ENABLE_CONNECT_PROTOCOL is advertised: requests with {@code :protocol} are served. */
    private final boolean connectProtocol;
    private volatile AmplificationLimit amplificationLimit;
    private volatile ChannelHandler errors;

    /**
     * @param bodyMinRate     the minimum average request body rate in bytes per second (0: none), as on TCP
     * @param connectProtocol whether extended CONNECT (RFC 9220, WebSocket over HTTP/3) is advertised and served
     */
    public QuicConnections(ExchangeDispatcher dispatcher, long maxFieldSectionSize, EarlyData earlyData,
                    Duration handshakeTimeout, long bodyMinRate, boolean connectProtocol) {
        this.connectProtocol = connectProtocol;
        this.bodyMinRate = bodyMinRate;
        this.dispatcher = dispatcher;
        this.maxFieldSectionSize = maxFieldSectionSize;
        this.earlyData = earlyData;
        this.handshakeTimeout = handshakeTimeout;
    }

    /** Where exceptions that reach the end of a connection's pipeline go (counted, logged without flooding). */
    public void errors(ChannelHandler handler) {
        this.errors = handler;
    }

    /** The UDP channel's anti-amplification limit, told when a client's address is validated. */
    public void amplificationLimit(AmplificationLimit limit) {
        this.amplificationLimit = limit;
    }

    /** The handler the QUIC codec installs on every new connection. */
    public ChannelHandler connectionInitializer() {
        return new ChannelInitializer<QuicChannel>() {
            @Override
            protected void initChannel(QuicChannel connection) {
                handshakeBegan(connection);
                connection.attr(MAX_STREAM_ID).set(new long[] {-1});
                // RFC 9220: extended CONNECT, for WebSocket over HTTP/3
                Http3Settings settings = Http3Settings.defaultSettings().maxFieldSectionSize(maxFieldSectionSize)
                        .enableConnectProtocol(connectProtocol);
                connection.pipeline().addLast(new Tracker(), new Http3ServerConnectionHandler(
                        new ChannelInitializer<QuicStreamChannel>() {
                            @Override
                            protected void initChannel(QuicStreamChannel stream) {
                                stream.config().setAutoRead(false);
                                // next to the channel, below the HTTP/3 frame codec
                                stream.pipeline().addFirst(new QuicStreamWrites());
                                stream.pipeline().addLast(new Http3RequestStreamHandler(dispatcher, earlyData, bodyMinRate,
                                        connectProtocol));
                            }
                        }, null, null, new DefaultHttp3SettingsFrame(settings), true));
                earlyData.connectionStarted(connection);
                catchErrors(connection);
            }
        };
    }

    public int size() {
        return connections.size();
    }

    /**
     * Adds every open connection's packets sent and lost since the last count to the metrics (called every few
     * seconds, so long-lived connections show up before they close). Stats are collected on each connection's event
     * loop.
     */
    public void countPackets() {
        for (Channel channel : connections) {
            countPackets((QuicChannel) channel);
        }
    }

    private void countPackets(QuicChannel connection) {
        connection.collectStats().addListener(f -> {
            if (f.isSuccess()) {
                QuicConnectionStats stats = (QuicConnectionStats) f.getNow();
                long[] counted = connection.attr(COUNTED).get();
                if (counted == null) {
                    counted = new long[2];
                    connection.attr(COUNTED).set(counted);
                }
                dispatcher.metrics().packets(stats.sent() - counted[0], stats.lost() - counted[1]);
                counted[0] = stats.sent();
                counted[1] = stats.lost();
            }
        });
    }

    /**
     * Drain phase 2: tell every client not to start new requests (HTTP/3 GOAWAY with the first request stream id we
     * will not process, RFC 9114 §5.2). New connections from now on are refused.
     */
    public void goAway() {
        beganBeforeDrain.addAll(handshaking);
        draining = true;
        handshakeSettled(null);
        // Abandoned handshakes never settle before their deadline: wait for the rest a short while only.
        CompletableFuture.delayedExecutor(DRAIN_HANDSHAKE_GRACE.toMillis(), TimeUnit.MILLISECONDS)
                .execute(() -> handshakesBeforeDrainDone.complete(lateConnectionAdmitted));
        for (Channel channel : connections) {
            QuicChannel connection = (QuicChannel) channel;
            connection.eventLoop().execute(() -> {
                QuicStreamChannel control = Http3.getLocalControlStream(connection);
                if (control != null && control.isActive()) {
                    long last = connection.attr(MAX_STREAM_ID).get()[0];
                    control.writeAndFlush(new DefaultHttp3GoAwayFrame(last < 0 ? 0 : last + 4));
                }
            });
        }
    }

    /**
     * Completes once every handshake that was in progress when the drain began has completed or failed (those
     * connections are served: their clients sent their first flight before the server said anything about draining),
     * or {@link #DRAIN_HANDSHAKE_GRACE} after the drain began, whichever is first; with whether any of them completed
     * and was admitted (its first requests may follow).
     */
    public CompletableFuture<Boolean> whenHandshakesBeforeDrainDone() {
        return handshakesBeforeDrainDone;
    }

    private void handshakeSettled(QuicChannel connection) {
        if (connection != null) {
            beganBeforeDrain.remove(connection);
        }
        if (draining && beganBeforeDrain.isEmpty()) {
            handshakesBeforeDrainDone.complete(lateConnectionAdmitted);
        }
    }

    /**
     * A connection's handshake began (its first Initial created it): counted in progress until it completes
     * ({@link Tracker#channelActive}), fails or is closed, or its deadline passes — then it is closed and counted as a
     * failed handshake with {@code reason="timeout"}. Netty never fires {@code channelInactive} for a connection that
     * was never active, so the close future is what tells that a handshake ended without completing.
     */
    private void handshakeBegan(QuicChannel connection) {
        WorkerMetrics metrics = dispatcher.metrics();
        metrics.handshakesInProgress(1);
        handshaking.add(connection);
        connection.closeFuture().addListener(f -> handshakeFailed(connection, HandshakeFailure.CLOSED));
        connection.attr(HANDSHAKE_DEADLINE).set(connection.eventLoop().schedule(() -> {
            if (!connection.isActive() && handshakeFailed(connection, HandshakeFailure.TIMEOUT)) {
                log.debug("closing a QUIC handshake with {}: not completed within {}",
                        connection.remoteSocketAddress(), handshakeTimeout);
                connection.close();
            }
        }, handshakeTimeout.toNanos(), TimeUnit.NANOSECONDS));
    }

    /** Ends the connection's pipeline with the handler that counts what quiche raises for undecodable packets. */
    private void catchErrors(QuicChannel connection) {
        ChannelHandler handler = errors;
        if (handler != null) {
            connection.pipeline().addLast(handler);
        }
    }

    /** Settles a handshake as failed unless already settled; returns whether this call settled it. */
    private boolean handshakeFailed(QuicChannel connection, HandshakeFailure reason) {
        if (!handshaking.remove(connection)) {
            return false;
        }
        WorkerMetrics metrics = dispatcher.metrics();
        metrics.handshakesInProgress(-1);
        metrics.handshake(false, false);
        metrics.handshakeFailed(reason);
        handshakeSettled(connection);
        return true;
    }

    /** Settles a handshake as completed unless already settled; returns whether this call settled it. */
    private boolean handshakeCompleted(QuicChannel connection) {
        if (!handshaking.remove(connection)) {
            return false;
        }
        WorkerMetrics metrics = dispatcher.metrics();
        metrics.handshakesInProgress(-1);
        metrics.handshake(true, Boolean.TRUE.equals(TlsSessions.resumed(connection.sslEngine())));
        Future<?> deadline = connection.attr(HANDSHAKE_DEADLINE).getAndSet(null);
        if (deadline != null) {
            deadline.cancel(false);
        }
        AmplificationLimit limit = amplificationLimit;
        if (limit != null) {
            limit.validated(inet(connection.remoteSocketAddress()));
        }
        return true;
    }

    /**
     * Completes once every HTTP/3 connection has closed, or after {@code bound}, whichever is first. A client that
     * honours GOAWAY closes its connection itself once the responses to its requests below the GOAWAY's stream id have
     * arrived (RFC 9114 §5.2: "Once all accepted requests have been processed, the server can permit the connection
     * to become idle"): until then the server must keep it, because closing it in quiche discards whatever it has not
     * sent or the client has not acknowledged yet, the GOAWAY frame and the last responses among them.
     */
    public CompletableFuture<Void> whenClosedByClients(Duration bound) {
        CompletableFuture<Void> closed = new CompletableFuture<>();
        connections.newCloseFuture().addListener(f -> closed.complete(null));
        return closed.completeOnTimeout(null, bound.toNanos(), TimeUnit.NANOSECONDS);
    }

    /**
     * Drain phase 4: close every connection with H3_NO_ERROR. Completes when each close has run, i.e. when each
     * connection's CONNECTION_CLOSE has been written to the UDP channel (it may still wait there to be sent).
     */
    public CompletableFuture<Void> closeAll() {
        draining = true;
        List<CompletableFuture<Void>> closing = new ArrayList<>();
        for (Channel channel : connections) {
            CompletableFuture<Void> closed = new CompletableFuture<>();
            channel.closeFuture().addListener(f -> closed.complete(null));
            closing.add(closed);
            ((QuicChannel) channel).close(true, Http3ErrorCode.H3_NO_ERROR.code(),
                    Unpooled.copiedBuffer("server shutting down", StandardCharsets.US_ASCII));
        }
        return CompletableFuture.allOf(closing.toArray(CompletableFuture[]::new));
    }

    /** Per-connection facts for the request, computed once (after the handshake) and cached. */
    static ConnectionInfo info(QuicChannel connection, boolean earlyData) {
        if (!connection.isActive()) {
            // A request before the handshake completed came in 0-RTT, which TLS 1.3 allows only on a resumed session
            // (RFC 8446 §4.2.10); Netty learns that the session was resumed only when the handshake completes.
            return new ConnectionInfo(Protocol.H3, inet(connection.remoteSocketAddress()),
                    inet(connection.localSocketAddress()), Boolean.TRUE, earlyData);
        }
        ConnectionInfo info = connection.attr(INFO).get();
        if (info == null) {
            info = new ConnectionInfo(Protocol.H3, inet(connection.remoteSocketAddress()),
                    inet(connection.localSocketAddress()), TlsSessions.resumed(connection.sslEngine()), false);
            connection.attr(INFO).set(info);
        }
        return earlyData == info.earlyData() ? info
                : new ConnectionInfo(info.protocol(), info.remote(), info.local(), info.tlsResumed(), earlyData);
    }

    /** Records a request stream id so GOAWAY can name the first one not processed. */
    static void streamAccepted(QuicChannel connection, long streamId) {
        long[] max = connection.attr(MAX_STREAM_ID).get();
        if (max != null && streamId > max[0]) {
            max[0] = streamId;
        }
    }

    private static InetSocketAddress inet(SocketAddress address) {
        return address instanceof InetSocketAddress inet ? inet : null;
    }

    /**
     * Adds the connection to the group (refusing it while draining) and counts it: handshakes (a connection that
     * closes before it became active failed its handshake), active connections, packets sent and lost.
     */
    private final class Tracker extends ChannelInboundHandlerAdapter {
        private boolean active;

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            WorkerMetrics metrics = dispatcher.metrics();
            QuicChannel connection = (QuicChannel) ctx.channel();
            if (active) {
                metrics.connectionClosed();
            }
            countPackets(connection);
            earlyData.connectionClosed(connection);
            ctx.fireChannelInactive();
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            QuicChannel connection = (QuicChannel) ctx.channel();
            active = true;
            WorkerMetrics metrics = dispatcher.metrics();
            handshakeCompleted(connection);
            metrics.connectionOpened();
            boolean lateButExpected = draining && beganBeforeDrain.contains(connection);
            if (lateButExpected) {
                lateConnectionAdmitted = true;
            }
            handshakeSettled(connection);
            if (draining && !lateButExpected) {
                log.debug("refusing a new QUIC connection from {}: draining", connection.remoteSocketAddress());
                connection.close(false, CONNECTION_REFUSED,
                        Unpooled.copiedBuffer("server draining", StandardCharsets.US_ASCII));
                return;
            }
            connections.add(connection);
            earlyData.connectionActive(connection);
            ctx.fireChannelActive();
            if (lateButExpected) {
                // Serve what it sends now, but tell it at once not to start more (its client missed the GOAWAY).
                connection.eventLoop().execute(() -> {
                    QuicStreamChannel control = Http3.getLocalControlStream(connection);
                    if (control != null && control.isActive()) {
                        control.writeAndFlush(new DefaultHttp3GoAwayFrame(4 * LATE_CONNECTION_STREAMS));
                    }
                });
            }
        }
    }
}
