package dev.quicfleet.worker;

import dev.quicfleet.http.Handler;
import dev.quicfleet.http.Protocol;
import dev.quicfleet.http.Router;
import dev.quicfleet.http.Service;
import dev.quicfleet.metrics.DroppedDatagram;
import dev.quicfleet.metrics.WorkerMetrics;
import dev.quicfleet.ticketcache.KeySchedule;
import dev.quicfleet.ticketcache.ReplayCheck;
import dev.quicfleet.ticketcache.TicketKey;
import dev.quicfleet.transport.AmplificationLimit;
import dev.quicfleet.transport.ConfigValues;
import dev.quicfleet.transport.ConnectionIds;
import dev.quicfleet.transport.ListenerException;
import dev.quicfleet.transport.Listeners;
import dev.quicfleet.transport.ResetRateLimiter;
import dev.quicfleet.transport.RetryTokens;
import dev.quicfleet.transport.StatelessResets;
import dev.quicfleet.transport.Transport;
import dev.quicfleet.worker.compression.Compression;
import dev.quicfleet.worker.log.AccessLog;
import dev.quicfleet.worker.protocol.ExchangeDispatcher;
import dev.quicfleet.worker.protocol.quic.EarlyData;
import dev.quicfleet.worker.protocol.quic.EarlyDataPolicy;
import dev.quicfleet.worker.protocol.quic.MalformedDatagrams;
import dev.quicfleet.worker.protocol.quic.NatRebinding;
import dev.quicfleet.worker.protocol.quic.QuicConnections;
import dev.quicfleet.worker.protocol.quic.SlotHandover;
import dev.quicfleet.worker.protocol.quic.UnknownConnections;
import dev.quicfleet.worker.protocol.quic.VersionNegotiation;
import dev.quicfleet.worker.protocol.tcp.TcpConnections;
import dev.quicfleet.worker.tls.QuicKeys;
import dev.quicfleet.worker.tls.SharedKeysUnavailableException;
import dev.quicfleet.worker.tls.TlsConfigException;
import dev.quicfleet.worker.tls.TlsMaterial;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http2.Http2SecurityUtil;
import io.netty.handler.codec.http3.Http3;
import io.netty.handler.codec.quic.QuicSslContext;
import io.netty.handler.codec.quic.QuicSslContextBuilder;
import io.netty.handler.codec.quic.SslSessionTicketKey;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.OpenSslSessionContext;
import io.netty.handler.ssl.OpenSslSessionTicketKey;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.SupportedCipherSuiteFilter;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One serving process: HTTP/3 on a UDP socket and HTTP/2 + HTTP/1.1 (TLS, ALPN) on a TCP socket of the same port
 * number, every request handed to a {@link Service} on its connection's event loop, or to a blocking
 * {@link Handler} on a virtual thread.
 *
 * <pre>{@code
 * Worker worker = new Worker(WorkerConfig.builder().port(8443).build(), (request, response) ->
 *         response.send(200, "text/plain", "hello over " + request.protocol()));
 * worker.start().join();
 * // ...
 * worker.drain().join();   // GOAWAY, let requests finish, close
 * }</pre>
 */
public final class Worker {

    private static final Logger log = LoggerFactory.getLogger(Worker.class);
    /** Pending TCP connections the kernel queues for us. */
    private static final int TCP_BACKLOG = 4096;
    /** How long an address's anti-amplification budget outlives the handshake deadline. */
    private static final Duration AMPLIFICATION_MARGIN = Duration.ofSeconds(5);
    /**
     * Client addresses whose anti-amplification budget is tracked at once (~100 bytes each); beyond it the oldest
     * go first. Far above what --retry auto lets through before it answers Initials statelessly.
     */
    private static final int AMPLIFICATION_ADDRESSES = 65_536;
    /** Per-stream HTTP/2 window: request body bytes in flight per stream. */
    private static final int H2_STREAM_WINDOW = 1 << 20;

    private final WorkerConfig config;
    private final Transport transport;
    private final ExchangeDispatcher dispatcher;
    private final WorkerMetrics metrics;
    private final EarlyData earlyData;
    private final NatRebinding natRebinding = new NatRebinding(); // followed NAT rebindings (quiche loses data)
    /** The layout of the connection ids this worker issues: they name its slot, so the kernel can steer. */
    private final ConnectionIds connectionIds;
    private final QuicConnections quicConnections;
    private final ResetRateLimiter versionNegotiationLimits = VersionNegotiation.defaultLimits();
    /** Retry token and stateless-reset keys: this process's own until {@link #sharedQuicKeys()}. */
    private QuicKeys quicKeys = QuicKeys.local(Clock.systemUTC());
    private final long createdNanos = System.nanoTime();
    /** The link to the other worker of this slot during a reload; only under a supervisor. */
    private SlotHandover handover;
    private TlsMaterial tls;
    private volatile AccessLog accessLog;
    private volatile QuicSslContext quicSsl;
    private volatile SslContext tcpSsl;
    /** The last keys given to {@link #setTicketKeys}: applied to the TLS contexts as soon as they exist. */
    private volatile List<TicketKey> ticketKeys;
    /** What must complete before the sockets are bound (the cluster's keys), and for how long to wait. */
    private CompletableFuture<?> serveAfter = CompletableFuture.completedFuture(null);
    private Duration serveAfterTimeout = Duration.ZERO;
    private TcpConnections tcpConnections;
    private EventLoopGroup group;
    private EventLoopGroup tcpGroup;
    private Channel udpChannel;
    private Channel tcpChannel;
    private int port;

    /**
     * @throws dev.quicfleet.transport.TransportUnavailableException when the configured transport is not available
     */
    public Worker(WorkerConfig config, Handler handler) {
        this(config, Service.blocking(handler));
    }

    /**
     * A worker whose requests go to {@code service} on the event loop (a {@link Router} of services and handlers).
     *
     * @throws dev.quicfleet.transport.TransportUnavailableException when the configured transport is not available
     */
    public Worker(WorkerConfig config, Service service) {
        this(config, service, resolveTransport(config));
    }

    Worker(WorkerConfig config, Service service, Transport transport) {
        this.config = config;
        this.transport = transport;
        this.metrics = new WorkerMetrics(config.slot(), transport.id());
        this.dispatcher = new ExchangeDispatcher(service, config.bodyTimeout(), null, metrics);
        this.connectionIds = ConnectionIds.of(
                ConnectionIds.parseServerId(config.serverId()));
        this.earlyData = new EarlyData(config.earlyData(), metrics,
                EarlyData.localReplayRegister(EarlyData.LOCAL_REGISTER_TTL, EarlyData.LOCAL_REGISTER_CAPACITY));
        this.quicConnections = new QuicConnections(dispatcher, TcpConnections.MAX_HEADER_SIZE, earlyData,
                config.quic().handshakeTimeout(), config.bodyMinRate(), config.webSocket());
    }

    /**
     * The transport {@code config} asks for: the best available for {@code auto}, else the named one.
     *
     * @throws dev.quicfleet.transport.TransportUnavailableException when the named transport is not available
     */
    static Transport resolveTransport(WorkerConfig config) {
        return config.transport().equals("auto") ? Transport.best() : Transport.parse(config.transport()).require();
    }

    /** The transport this worker runs on. */
    public Transport transport() {
        return transport;
    }

    /** The port (UDP and TCP) once started. */
    public int port() {
        return port;
    }

    /** The certificate in use once started. */
    public TlsMaterial tls() {
        return tls;
    }

    /** This worker's meters (requests, QUIC connections, JVM); the supervisor scrapes them. */
    /**
     * Records 0-RTT client randoms in {@code register} from now on (the cluster's shared replay register, once its
     * map is open; a lone worker keeps its own).
     */
    public void replayRegister(Function<byte[], ReplayCheck> register) {
        earlyData.replayRegister(register::apply);
    }

    /** Reopens the access log file (after logrotate moved it; SIGUSR1); nothing without an access log. */
    public void reopenAccessLog() {
        AccessLog log = accessLog;
        if (log != null) {
            log.reopen();
        }
    }

    public WorkerMetrics metrics() {
        return metrics;
    }

    /** One of the worker's event loops, once started: for periodic work of a service (proxy health checks). */
    public EventLoop eventLoop() {
        return group.next();
    }

    /** This worker's hand-over link port (for the supervisor), or 0 when it has none (not under a supervisor). */
    public int handoverPort() {
        return handover == null ? 0 : handover.port();
    }

    /**
     * Shares the slot's UDP socket with the worker whose hand-over link is on {@code peerPort} (a reload), passing it
     * the packets that are not ours; 0 ends the sharing.
     */
    public void shareSlotWith(int peerPort) {
        if (handover != null) {
            handover.peer(peerPort);
        }
    }

    /**
     * Makes this worker use the cluster's QUIC keys (Retry tokens, stateless resets), fed from the shared map through
     * the returned sink; until the first schedule arrives it sends no Retry and no reset. Call before {@link #start}.
     */
    public Consumer<KeySchedule> sharedQuicKeys() {
        if (udpChannel != null) {
            throw new IllegalStateException("sharedQuicKeys() after start()");
        }
        quicKeys = QuicKeys.shared(Clock.systemUTC());
        return quicKeys::update;
    }

    /**
     * Binds the sockets (and so serves) only once {@code ready} completes: the cluster's keys, so that no ticket is
     * ever issued or checked with keys of this process's own. {@link #start()} fails with
     * {@link SharedKeysUnavailableException} if it does not complete within {@code timeout}. Call before start.
     */
    public void serveOnlyAfter(CompletableFuture<?> ready, Duration timeout) {
        if (udpChannel != null) {
            throw new IllegalStateException("serveOnlyAfter() after start()");
        }
        this.serveAfter = ready;
        this.serveAfterTimeout = timeout;
    }

    /**
     * Sets the TLS session-ticket keys of every TLS context (QUIC and TCP); the first key encrypts new tickets, all
     * of them decrypt. Safe from any thread; applies to new handshakes at once.
     */
    public void setTicketKeys(List<TicketKey> keys) {
        ticketKeys = keys;
        applyTicketKeys(keys);
    }

    private void applyTicketKeys(List<TicketKey> keys) {
        if (keys == null) {
            return;
        }
        QuicSslContext quic = quicSsl;
        if (quic != null) {
            quic.sessionContext().setTicketKeys(keys.stream()
                    .map(k -> new SslSessionTicketKey(k.name(), k.hmacKey(), k.aesKey()))
                    .toArray(SslSessionTicketKey[]::new));
        }
        if (tcpSsl != null && tcpSsl.sessionContext() instanceof OpenSslSessionContext openSsl) {
            openSsl.setTicketKeys(keys.stream()
                    .map(k -> new OpenSslSessionTicketKey(k.name(), k.hmacKey(), k.aesKey()))
                    .toArray(OpenSslSessionTicketKey[]::new));
        }
    }

    /**
     * When this worker may answer packets of its slot's unknown connections with a stateless reset: never if turned
     * off, or if other processes started by hand may share the slot (SO_REUSEPORT without the supervisor); otherwise
     * once keys are known, after the hold-off (a reloaded worker's predecessor drains on the same socket), and not
     * while this worker drains (its successor serves the slot).
     */
    private BooleanSupplier statelessResetsAllowed() {
        if (!config.statelessReset()) {
            return null;
        }
        if (config.reusePort() && config.udpFd() < 0) {
            log.info("stateless resets off: --reuse-port without the supervisor, so other workers may hold "
                    + "connections of slot {}", config.slot());
            return null;
        }
        long holdoffEnds = createdNanos + config.resetHoldoff().toNanos();
        QuicKeys keys = quicKeys;
        SlotHandover shared = handover;
        return () -> !dispatcher.draining() && System.nanoTime() - holdoffEnds >= 0 && keys.available()
                && (shared == null || !shared.active());
    }

    /** Whether {@link #drain()} has begun. */
    public boolean draining() {
        return dispatcher.draining();
    }

    /** The configuration. */
    public WorkerConfig config() {
        return config;
    }

    /**
     * Loads TLS material, opens the UDP and TCP listeners and starts serving. On failure everything opened so far
     * is closed and the future fails with {@link TlsConfigException}, {@link dev.quicfleet.transport.ListenerException}
     * or another exception whose message says what to fix.
     */
    public CompletableFuture<Void> start() {
        try {
            doStart();
            return CompletableFuture.completedFuture(null);
        } catch (Exception e) {
            closeEverything();
            return CompletableFuture.failedFuture(e);
        }
    }

    private void doStart() throws TlsConfigException, SSLException {
        long t0 = System.nanoTime();
        if (config.compression().enabled()) {
            dispatcher.compression(new Compression(config.compression()));
        }
        if (config.accessLog() != null) {
            // first: a path that cannot be opened is a configuration error, said before anything binds
            accessLog = new AccessLog(config.accessLog(), config.accessLogFormat(), config.slot(), metrics);
            dispatcher.accessLog(accessLog);
        }
        tls = config.cert() == null
                ? TlsMaterial.developmentCertificate(config.stateDir(), Clock.systemUTC())
                : TlsMaterial.load(config.cert(), config.key(), Clock.systemUTC());
        X509Certificate[] chain = tls.chain().toArray(new X509Certificate[0]);
        // Loading BoringSSL for TCP (tcnative) and building its context takes about half a second: do it while this
        // thread sets up QUIC, the event loops and the UDP socket (start-up time is respawn time).
        CompletableFuture<SslContext> tcpSslFuture = CompletableFuture.supplyAsync(() -> tcpSslContext(chain),
                task -> Thread.ofPlatform().daemon().name("quicfleet-tls-init").start(task));
        long tTls = System.nanoTime();
        QuicSslContextBuilder quicSslBuilder = QuicSslContextBuilder.forServer(tls.privateKey(), null, chain)
                .applicationProtocols(Http3.supportedApplicationProtocols());
        if (config.earlyData() != EarlyDataPolicy.OFF) {
            quicSslBuilder.earlyData(true).keylog(earlyData.keylog());
        }
        quicSsl = quicSslBuilder.build();
        long tQuic = System.nanoTime();

        QuicKeys keys = quicKeys;
        var resets = new StatelessResets(connectionIds, keys::resetKey, keys::available);
        if (config.udpFd() >= 0) {
            try {
                handover = SlotHandover.open();
            } catch (IOException e) {
                log.warn("no hand-over link for reloads (QUIC packets may be lost while this slot reloads): {}",
                        e.toString());
            }
        }
        group = transport.newEventLoopGroup(config.ioThreads(),
                new DefaultThreadFactory("quicfleet-io-" + config.slot(), true));
        // A codec per bind attempt (below): Netty's QUIC codec may sit in one pipeline only, ever.
        Supplier<ChannelHandler> quicCodecs = () -> config.quic().applyTo(Http3.newQuicServerCodecBuilder(), transport)
                .sslContext(quicSsl)
                // Retry only when needed (--retry), with tokens every worker and host of the cluster accepts
                .tokenHandler(new RetryTokens(keys::tokenKeys, config.retry(),
                        () -> metrics.handshakesInProgress() >= config.retryThreshold(), Clock.systemUTC(),
                        RetryTokens.DEFAULT_LIFETIME, metrics::retrySent))
                // connection ids carry this worker's slot and the key epoch's codepoint (docs/CONNECTION-IDS.md);
                // their reset tokens come from the epoch's shared reset key
                .localConnectionIdLength(connectionIds.length())
                .connectionIdAddressGenerator(connectionIds.generator(config.slot(), keys::rotation))
                .resetTokenGenerator(resets)
                .handler(natRebinding.connections(quicConnections.connectionInitializer()))
                .build();
        ChannelHandler quicCodec = quicCodecs.get();
        long tBound = System.nanoTime();
        SslContext tcpSsl;
        try {
            tcpSsl = tcpSslFuture.join();
            this.tcpSsl = tcpSsl;
        } catch (CompletionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
        }
        // the keys set so far (the contexts did not exist yet); later ones apply at once
        applyTicketKeys(ticketKeys);
        long tTcpReady = System.nanoTime();
        try {
            awaitServeAfter();
        } catch (TimeoutException e) {
            throw new SharedKeysUnavailableException("the cluster's shared keys were not readable within "
                    + ConfigValues.format(serveAfterTimeout) + " (see the warnings above; the supervisor creates "
                    + "them before it starts workers)");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SharedKeysUnavailableException("interrupted while waiting for the cluster's shared keys");
        } catch (ExecutionException e) {
            throw new SharedKeysUnavailableException("the cluster's shared keys: " + e.getCause());
        }
        long tKeys = System.nanoTime();
        TcpConnections tcp = new TcpConnections(tcpSsl, dispatcher, config.idleTimeout(),
                config.quic().maxStreams(), H2_STREAM_WINDOW, (int) Math.min(Integer.MAX_VALUE,
                config.quic().maxData()), config.drainTimeout(), config.headerTimeout(), config.bodyMinRate(),
                config.proxyProtocolFrom(), config.webSocket());
        tcpConnections = tcp;

        int socketBuffer = config.quic().udpSocketBuffer();
        // Port 0 (tests): the kernel picks a free UDP port, but the same number may be taken on TCP; try a few.
        for (int attempt = 1; ; attempt++) {
            try {
                bindListeners(quicCodec, resets, tcp, socketBuffer);
                break;
            } catch (ListenerException e) {
                boolean retry = config.port() == 0 && config.udpFd() < 0 && attempt < 20
                        && e.getMessage().contains("address already in use");
                if (!retry) {
                    throw e;
                }
                if (udpChannel != null) {
                    udpChannel.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
                    udpChannel = null;
                }
                quicCodec = quicCodecs.get(); // the last one was in the closed channel's pipeline
            }
        }
        // Packets of open connections reach the metrics every few seconds, not only when a connection closes.
        group.next().scheduleAtFixedRate(quicConnections::countPackets, 5, 5, TimeUnit.SECONDS);
        long tDone = System.nanoTime();
        log.info("serving {} on udp+tcp {} (transport {}, GSO {}, TLS {} for TCP)", tls.describe(), port,
                transport.id(), transport.supportsGso() && config.quic().gsoSegments() > 1
                        ? "on, " + config.quic().gsoSegments() + " segments" : "off",
                OpenSsl.isAvailable() ? "BoringSSL" : "JDK");
        // Start-up is respawn time: say where it went (the JVM's own start is before main, see uptime).
        log.info("started in {} ms since JVM start: certificate {} ms, QUIC TLS {} ms, event loops and QUIC codec {} "
                + "ms, waiting for TCP TLS (built in parallel) {} ms, waiting for the shared keys (read in parallel) "
                + "{} ms, UDP and TCP sockets {} ms",
                ManagementFactory.getRuntimeMXBean().getUptime(), ms(tTls - t0),
                ms(tQuic - tTls), ms(tBound - tQuic), ms(tTcpReady - tBound), ms(tKeys - tTcpReady),
                ms(tDone - tKeys));
    }

    /** Waits for {@link #serveOnlyAfter}'s future, saying every 10 s that it still waits (a busy machine). */
    private void awaitServeAfter() throws TimeoutException, InterruptedException,
            ExecutionException {
        long deadline = System.nanoTime() + serveAfterTimeout.toNanos();
        long waited = 0;
        while (true) {
            long left = deadline - System.nanoTime();
            try {
                serveAfter.get(Math.max(0, Math.min(left, TimeUnit.SECONDS.toNanos(10))), TimeUnit.NANOSECONDS);
                return;
            } catch (TimeoutException e) {
                if (deadline - System.nanoTime() <= 0) {
                    throw e;
                }
                waited += 10;
                log.info("still waiting for the cluster's shared keys after {} s (opening the shared map generates "
                        + "code, which takes long on a busy machine); serving starts once they are applied", waited);
            }
        }
    }

    private void bindListeners(ChannelHandler quicCodec,
                               StatelessResets resets, TcpConnections tcp, int socketBuffer) {
        // Ahead of the codec: packets for connections this slot lost get a stateless reset; 0-RTT: early requests
        // surface while the client's first flight is processed (EarlyData).
        BooleanSupplier mayReset = statelessResetsAllowed();
        ChannelHandler udpHandler = new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                // Budgets outlive the handshake deadline by a little: the CONNECTION_CLOSE sent at the deadline is
                // still limited.
                AmplificationLimit amplification = new AmplificationLimit(connectionIds,
                        config.quic().handshakeTimeout().plus(AMPLIFICATION_MARGIN), AMPLIFICATION_ADDRESSES,
                        System::nanoTime, () -> metrics.datagramDropped(DroppedDatagram.AMPLIFICATION));
                quicConnections.amplificationLimit(amplification);
                MalformedDatagrams malformed = new MalformedDatagrams(metrics, System::nanoTime);
                quicConnections.errors(malformed);
                ch.pipeline().addLast(new UnknownConnections(connectionIds, config.slot(), resets,
                        ResetRateLimiter.defaults(), metrics, quicCodec, mayReset, handover,
                        Worker.this::draining),
                        new VersionNegotiation(metrics, versionNegotiationLimits.newLimiter()), amplification,
                        earlyData.firstFlightReader(), natRebinding.datagramHandler(), quicCodec, malformed);
            }
        };
        if (config.udpFd() >= 0) {
            udpChannel = Listeners.adoptUdp(transport, group, config.udpFd(), socketBuffer, udpHandler);
        } else {
            udpChannel = Listeners.bindUdp(transport, group, new InetSocketAddress(config.address(), config.port()),
                    config.reusePort(), socketBuffer, udpHandler);
        }
        port = ((InetSocketAddress) udpChannel.localAddress()).getPort();
        dispatcher.altSvc(WorkerConfig.altSvc(port));
        if (config.tcpFd() >= 0 && transport == Transport.IO_URING) {
            // Netty 4.2's io_uring cannot adopt a listening socket: TCP runs on an epoll loop of its own, QUIC stays
            // on io_uring.
            tcpGroup = Transport.EPOLL.newEventLoopGroup(config.ioThreads(),
                    new DefaultThreadFactory("quicfleet-tcp-" + config.slot(), true));
            tcpChannel = Listeners.adoptTcp(Transport.EPOLL, tcpGroup, config.tcpFd(), TCP_BACKLOG,
                    tcp.childInitializer());
        } else if (config.tcpFd() >= 0) {
            tcpChannel = Listeners.adoptTcp(transport, group, config.tcpFd(), TCP_BACKLOG, tcp.childInitializer());
        } else {
            tcpChannel = Listeners.bindTcp(transport, group, new InetSocketAddress(config.address(), port),
                    config.reusePort(), TCP_BACKLOG, tcp.childInitializer());
        }
    }

    private static long ms(long nanos) {
        return TimeUnit.NANOSECONDS.toMillis(nanos);
    }

    private SslContext tcpSslContext(X509Certificate[] chain) {
        try {
            return SslContextBuilder.forServer(tls.privateKey(), chain)
                    .sslProvider(OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK)
                    .ciphers(Http2SecurityUtil.CIPHERS, SupportedCipherSuiteFilter.INSTANCE)
                    .protocols("TLSv1.3", "TLSv1.2")
                    .applicationProtocolConfig(new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
                            ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                            ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                            ApplicationProtocolNames.HTTP_2, ApplicationProtocolNames.HTTP_1_1))
                    .build();
        } catch (SSLException e) {
            throw new IllegalStateException("cannot build the TLS context for TCP: " + e.getMessage(), e);
        }
    }

    /**
     * Drains in four phases: stop accepting (close the TCP listener, refuse new QUIC connections), send GOAWAY on
     * every HTTP/3 and HTTP/2 connection (and close idle HTTP/1.1 ones), wait for in-flight requests up to
     * {@link WorkerConfig#drainTimeout()} and for HTTP/3 clients to close their connections up to
     * {@link #CLIENT_CLOSE_GRACE} more (within the deadline), then close everything. Completes when closed.
     */
    public CompletableFuture<Void> drain() {
        return drain(config.drainTimeout());
    }

    /** After the drain's last QUIC handshake completed, how long its client's first requests may take to arrive. */
    private static final Duration LATE_REQUEST_GRACE = Duration.ofMillis(250);
    /**
     * Once nothing is in flight, how long the drain still waits for HTTP/3 clients to close the connections they got
     * GOAWAY on (within the drain deadline): a few round trips for the GOAWAY and the last responses to arrive and be
     * acknowledged. Clients that keep an idle connection open (browsers) are closed after it.
     */
    private static final Duration CLIENT_CLOSE_GRACE = Duration.ofSeconds(1);
    /** How long closing waits for the QUIC connections' CONNECTION_CLOSE packets to leave the UDP socket. */
    private static final Duration CLOSE_FLUSH_BOUND = Duration.ofMillis(500);

    /** {@link #drain()} with an explicit deadline. */
    public CompletableFuture<Void> drain(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        dispatcher.startDraining();
        if (tcpChannel != null) {
            // Phase 1 completes before GOAWAY: no connection is accepted after this returns.
            tcpChannel.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
        }
        quicConnections.goAway();
        if (tcpConnections != null) {
            tcpConnections.goAway();
        }
        int inFlight = dispatcher.inFlight();
        log.info("draining: {} requests in flight, {} QUIC and {} TCP connections, deadline {}", inFlight,
                quicConnections.size(), tcpConnections == null ? 0 : tcpConnections.size(),
                ConfigValues.format(timeout));
        // Done when no request is in flight and every TCP connection has closed (a connection accepted just before
        // the listener closed may still bring a request), then once more for requests those connections brought.
        // QUIC handshakes in progress when the drain began complete and are served (abandoned ones are waited for
        // briefly only); if one was admitted, its first requests come with or right after the client's Finished,
        // hence a short grace before the last idle check. Then HTTP/3 clients get up to CLIENT_CLOSE_GRACE (within the
        // deadline) to close their connections themselves, which they do once their last response arrived. Without
        // it, a drain with nothing in flight closed every connection a few milliseconds after queueing GOAWAY, and
        // the UDP socket with it, before the GOAWAY and CONNECTION_CLOSE packets had left (see closeEverything): in a
        // reload under load the clients (h3load, the client library) never learned that the connection was gone,
        // kept sending requests on it that nobody served (the old worker had exited; the new one answers at most with
        // stateless resets, which a client recognises only for later connection IDs), and failed them only at their
        // idle timeout, 30 s later.
        return dispatcher.whenIdle()
                .thenCompose(idle -> tcpConnections == null ? CompletableFuture.completedFuture(null) : tcpConnections.whenAllClosed())
                .thenCompose(closed -> quicConnections.whenHandshakesBeforeDrainDone())
                .thenCompose(admitted -> !admitted ? CompletableFuture.completedFuture(null)
                        : CompletableFuture.runAsync(() -> { }, CompletableFuture.delayedExecutor(
                                LATE_REQUEST_GRACE.toMillis(), TimeUnit.MILLISECONDS)))
                .thenCompose(closed -> dispatcher.whenIdle())
                .orTimeout(Math.max(1, timeout.toMillis()), TimeUnit.MILLISECONDS)
                .handle((ok, error) -> {
                    if (error instanceof TimeoutException) {
                        log.warn("drain deadline of {} passed with {} requests still in flight; closing them",
                                ConfigValues.format(timeout), dispatcher.inFlight());
                    }
                    return null;
                })
                .thenCompose(ignored -> quicConnections.whenClosedByClients(Duration.ofNanos(
                        Math.clamp(deadline - System.nanoTime(), 0, CLIENT_CLOSE_GRACE.toNanos()))))
                // whenIdle() completes on an event loop; closing blocks, so it runs on a thread of its own.
                .thenComposeAsync(ignored -> stop(),
                        task -> Thread.ofPlatform().name("quicfleet-drain-" + config.slot()).start(task));
    }

    /**
     * Waits until the datagrams queued on {@code channel} have left (an io_uring or epoll channel keeps each one in
     * its outbound buffer until the kernel took it), at most until {@code deadlineNanos}.
     */
    private static void awaitFlushed(Channel channel, long deadlineNanos) {
        CompletableFuture<Integer> flushed = new CompletableFuture<>();
        Runnable check = new Runnable() {
            @Override
            public void run() {
                ChannelOutboundBuffer out = channel.unsafe().outboundBuffer();
                if (!channel.isOpen() || out == null || out.isEmpty() || System.nanoTime() >= deadlineNanos) {
                    flushed.complete(out == null ? 0 : out.size());
                } else {
                    channel.eventLoop().schedule(this, 1, TimeUnit.MILLISECONDS);
                }
            }
        };
        try {
            channel.eventLoop().execute(check);
            int left = flushed.get(Math.max(0, deadlineNanos - System.nanoTime()) + TimeUnit.MILLISECONDS.toNanos(100),
                    TimeUnit.NANOSECONDS);
            if (left > 0) {
                log.debug("closing the UDP socket with {} datagrams still queued", left);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException | RejectedExecutionException e) {
            // the event loop is gone or busy: close anyway
        }
    }

    /** Closes everything at once; in-flight requests are cut off. Completes when closed. */
    public CompletableFuture<Void> stop() {
        RuntimeException failure = closeEverything();
        return failure == null ? CompletableFuture.completedFuture(null) : CompletableFuture.failedFuture(failure);
    }

    private RuntimeException closeEverything() {
        RuntimeException failures = new RuntimeException("worker stop failed");
        CompletableFuture<Void> quicClosed = quicConnections.closeAll();
        if (tcpConnections != null) {
            tcpConnections.closeAll();
        }
        // The CONNECTION_CLOSE packets (and a GOAWAY queued just before) wait in the UDP channel's outbound buffer
        // until the kernel has taken them, and closing the channel fails whatever is still there: in a reload under
        // load, 8 of the 9 datagrams queued at the close (the GOAWAY and CONNECTION_CLOSE of all 3 connections)
        // failed with ClosedChannelException, and the clients waited for their idle timeout. So the connections are
        // closed first, then the socket once they have left (both bounded).
        long flushDeadline = System.nanoTime() + CLOSE_FLUSH_BOUND.toNanos();
        try {
            quicClosed.get(CLOSE_FLUSH_BOUND.toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            // closing goes on: the flush below is bounded too
        }
        if (udpChannel != null) {
            awaitFlushed(udpChannel, flushDeadline);
        }
        for (Channel channel : new Channel[] {tcpChannel, udpChannel}) {
            if (channel != null) {
                try {
                    channel.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
                } catch (RuntimeException e) {
                    failures.addSuppressed(e);
                }
            }
        }
        for (EventLoopGroup loops : new EventLoopGroup[] {tcpGroup, group}) {
            if (loops != null) {
                try {
                    loops.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(3, TimeUnit.SECONDS);
                } catch (RuntimeException e) {
                    failures.addSuppressed(e);
                }
            }
        }
        dispatcher.shutdownNow();
        if (handover != null) {
            handover.close();
        }
        if (accessLog != null) {
            accessLog.close(); // after the event loops: every finished exchange's line is queued
        }
        return failures.getSuppressed().length == 0 ? null : failures;
    }
}
