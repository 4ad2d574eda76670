package dev.quicfleet.worker;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.quicfleet.http.Router;
import dev.quicfleet.metrics.WorkerScrapeFetcher;
import dev.quicfleet.proxy.ProxyConfig;
import dev.quicfleet.proxy.ProxyService;
import dev.quicfleet.proxy.TrustedNetworks;
import dev.quicfleet.ticketcache.SharedSecretsConfig;
import dev.quicfleet.transport.ConfigValues;
import dev.quicfleet.transport.ListenerException;
import dev.quicfleet.transport.QuicLimits;
import dev.quicfleet.transport.RetryTokens;
import dev.quicfleet.transport.Transport;
import dev.quicfleet.transport.TransportUnavailableException;
import dev.quicfleet.worker.compression.CompressionConfig;
import dev.quicfleet.worker.log.AccessLogFormat;
import dev.quicfleet.worker.protocol.quic.EarlyDataPolicy;
import dev.quicfleet.worker.services.DemoSite;
import dev.quicfleet.worker.services.StaticFiles;
import dev.quicfleet.worker.services.WorkerIdentity;
import dev.quicfleet.worker.site.AppLoader;
import dev.quicfleet.worker.site.SiteConfig;
import dev.quicfleet.worker.site.SiteConfigException;
import dev.quicfleet.worker.site.SiteConfigParser;
import dev.quicfleet.worker.site.SiteRoutes;
import dev.quicfleet.worker.tls.SharedKeysUnavailableException;
import dev.quicfleet.worker.tls.TicketKeySync;
import dev.quicfleet.worker.tls.TlsConfigException;
import dev.quicfleet.worker.tls.TlsMaterial;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/**
 * The worker process: {@code java -jar quicfleet-worker.jar [options]} (or {@code ./scripts/worker}).
 *
 * <p>Every option can also come from a YAML file ({@code --config FILE}) under the same name without the dashes;
 * flags win over the file. The file's {@code sites} key holds the site configuration (hosts and their routes:
 * docs/CONFIG.md). Exit codes: 0 after a clean drain, 2 for anything the operator must fix (a bad flag or config
 * value, a bad certificate, a port in use, an unavailable transport), 1 for anything else.
 *
 * <p>Signals: SIGTERM or SIGINT drains (GOAWAY, in-flight requests finish up to {@code --drain-timeout}) and exits 0;
 * a second signal stops at once.
 */
@Command(name = "worker", mixinStandardHelpOptions = true, sortOptions = false, usageHelpAutoWidth = true,
        versionProvider = WorkerMain.Version.class,
        description = "Serves HTTP/3 on UDP and HTTP/2 + HTTP/1.1 (TLS) on TCP of the same port.")
public final class WorkerMain {

    /** Exit code for input the operator must fix. */
    static final int EXIT_CONFIG = 2;

    @Option(names = "--config", paramLabel = "FILE", description = "YAML file with the same keys as the flags, and "
            + "the sites (hosts and their routes: docs/CONFIG.md).")
    Path configFile;

    @Option(names = "--address", paramLabel = "IP", defaultValue = "0.0.0.0",
            description = "Address to listen on (default: ${DEFAULT-VALUE}).")
    String address;

    @Option(names = "--port", paramLabel = "PORT", defaultValue = "4433",
            description = "UDP and TCP port; 0 picks a free one (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--cert", paramLabel = "PEM", description = "Certificate chain (PEM, EC or RSA).")
    Path cert;

    @Option(names = "--key", paramLabel = "PEM", description = "Private key of --cert (PEM).")
    Path key;

    @Option(names = "--state-dir", paramLabel = "DIR",
            description = "Where the development certificate lives (default: $XDG_STATE_HOME/quicfleet or "
                    + "~/.local/state/quicfleet).")
    Path stateDir;

    @Option(names = "--transport", paramLabel = "NAME", defaultValue = "auto",
            description = "auto, io_uring, epoll or nio (default: ${DEFAULT-VALUE}: the best available).")
    String transport;

    @Option(names = "--io-threads", paramLabel = "N", defaultValue = "1", description = "Event loop threads (default: ${DEFAULT-VALUE}).")
    int ioThreads;

    @Option(names = "--slot", paramLabel = "N", defaultValue = "0", description = "Worker slot number (default: ${DEFAULT-VALUE}).")
    int slot;

    @Option(names = "--reuse-port", description = "Bind with SO_REUSEPORT so several workers share the port.")
    boolean reusePort;

    @Option(names = "--udp-fd", defaultValue = "-1", paramLabel = "FD", description = "Adopt this bound UDP socket.")
    int udpFd;

    @Option(names = "--tcp-fd", defaultValue = "-1", paramLabel = "FD", description = "Adopt this listening TCP socket.")
    int tcpFd;

    @Option(names = "--drain-timeout", defaultValue = "10s", paramLabel = "DURATION",
            description = "How long in-flight requests may finish on SIGTERM (default: ${DEFAULT-VALUE}).")
    String drainTimeout;

    @Option(names = "--idle-timeout", defaultValue = "30s", paramLabel = "DURATION",
            description = "Idle connections close after this (default: ${DEFAULT-VALUE}).")
    String idleTimeout;

    @Option(names = "--body-timeout", defaultValue = "60s", paramLabel = "DURATION",
            description = "A stalled request or response body fails after this (default: ${DEFAULT-VALUE}).")
    String bodyTimeout;

    @Option(names = "--handshake-timeout", defaultValue = "10s", paramLabel = "DURATION",
            description = "A QUIC handshake not completed this long after the client's first packet is closed and "
                    + "counted as failed (default: ${DEFAULT-VALUE}).")
    String handshakeTimeout;

    @Option(names = "--header-timeout", defaultValue = "10s", paramLabel = "DURATION",
            description = "An HTTP/1.1 request head (request line and header fields) must arrive within this, or the "
                    + "connection closes: the slowloris limit (default: ${DEFAULT-VALUE}).")
    String headerTimeout;

    @Option(names = "--body-min-rate", defaultValue = "" + WorkerConfig.DEFAULT_BODY_MIN_RATE, paramLabel = "BYTES",
            description = "Bytes per second a request body (HTTP/1.1, HTTP/2, HTTP/3) must average while the server reads "
                    + "it, after the first --body-timeout; a slower one is dropped; 0 turns the check off "
                    + "(default: ${DEFAULT-VALUE}).")
    String bodyMinRate;

    @Option(names = "--early-data", defaultValue = "safe", paramLabel = "off|safe|all|425",
            description = "TLS 1.3 early data (0-RTT) on HTTP/3: off; safe (GET, HEAD and OPTIONS run at once, "
                    + "answered in the server's first flight; other requests wait for the handshake); all; 425 (like "
                    + "safe, but other early requests get 425 Too Early and the client retries) (default: "
                    + "${DEFAULT-VALUE}). Replays never run.")
    String earlyData;

    @Option(names = "--server-id", defaultValue = "", paramLabel = "ID",
            description = "This host's server id in QUIC connection ids, for CID-aware load balancers: 0x + 2..8 hex "
                    + "digits or a decimal number (default: none). See docs/CONNECTION-IDS.md.")
    String serverId;

    @Option(names = "--retry", defaultValue = "auto", paramLabel = "auto|always|never",
            description = "QUIC address validation with a Retry round trip: auto (only while more than "
                    + "--retry-threshold handshakes are in progress: a flood of spoofed Initials), always, or never "
                    + "(default: ${DEFAULT-VALUE}). Tokens are valid on every worker and host of the cluster.")
    String retry;

    @Option(names = "--retry-threshold", defaultValue = "" + WorkerConfig.DEFAULT_RETRY_THRESHOLD, paramLabel = "N",
            description = "Handshakes in progress on one worker above which --retry auto sends Retry packets "
                    + "(default: ${DEFAULT-VALUE}).")
    int retryThreshold;

    @Option(names = "--stateless-reset", defaultValue = "on", paramLabel = "on|off",
            description = "Answer packets for connections this worker's slot has lost with a stateless reset, so "
                    + "clients close at once instead of at their idle timeout (default: ${DEFAULT-VALUE}).")
    String statelessReset;

    @Option(names = "--stateless-reset-holdoff", defaultValue = "0s", paramLabel = "DURATION", hidden = true,
            description = "Set by the supervisor on a reload: no stateless resets for this long after start, while "
                    + "the predecessor drains on the same socket.")
    String statelessResetHoldoff;

    @Option(names = "--handover-peer", paramLabel = "PORT", defaultValue = "0", hidden = true,
            description = "Set by the supervisor on a reload: the hand-over link port of the worker this one "
                    + "replaces, which still drains on the slot's socket.")
    int handoverPeer;

    @Option(names = "--quic-max-streams", paramLabel = "N", defaultValue = "256",
            description = "Concurrent requests per QUIC/HTTP/2 connection (default: ${DEFAULT-VALUE}).")
    long quicMaxStreams;

    @Option(names = "--quic-max-data", defaultValue = "16MiB", paramLabel = "SIZE",
            description = "Connection receive window (default: ${DEFAULT-VALUE}).")
    String quicMaxData;

    @Option(names = "--quic-max-stream-data", defaultValue = "1MiB", paramLabel = "SIZE",
            description = "Per-stream receive window (default: ${DEFAULT-VALUE}).")
    String quicMaxStreamData;

    @Option(names = "--quic-max-udp-payload", paramLabel = "BYTES", defaultValue = "1452",
            description = "Largest UDP payload sent or accepted; with --quic-pmtu-discovery the most probed for "
                    + "(default: ${DEFAULT-VALUE}).")
    int quicMaxUdpPayload;

    @Option(names = "--quic-pmtu-discovery", paramLabel = "on|off", defaultValue = "on",
            description = "Path MTU discovery: 1200-byte packets until a probe of --quic-max-udp-payload bytes is "
                    + "acknowledged; off: that size from the start (default: ${DEFAULT-VALUE}).")
    String quicPmtuDiscovery;

    @Option(names = "--quic-gso-segments", paramLabel = "N", defaultValue = "16",
            description = "Packets per UDP GSO send, 1 disables GSO (default: ${DEFAULT-VALUE}).")
    int quicGsoSegments;

    @Option(names = "--udp-socket-buffer", defaultValue = "4MiB", paramLabel = "SIZE",
            description = "UDP SO_RCVBUF/SO_SNDBUF (default: ${DEFAULT-VALUE}).")
    String udpSocketBuffer;

    /** Log line formats. */
    enum LogFormat { text, json }

    @Option(names = "--log-format", paramLabel = "FORMAT", defaultValue = "text",
            description = "text or json: one log line per event on stderr (default: ${DEFAULT-VALUE}).")
    LogFormat logFormat;

    @Option(names = "--shm-dir", paramLabel = "DIR",
            description = "Set by the supervisor: the shared map with the cluster's TLS session-ticket keys.")
    Path shmDir;

    @Option(names = "--supervisor-socket", paramLabel = "PATH",
            description = "Set by the supervisor: its control socket, which hands over this slot's sockets.")
    Path supervisorSocketOption;

    @Option(names = "--static-dir", paramLabel = "DIR", description = "Serve this directory as static files.")
    Path staticDir;

    @Option(names = "--static-prefix", defaultValue = "/static", paramLabel = "PATH",
            description = "URL prefix of --static-dir (default: ${DEFAULT-VALUE}).")
    String staticPrefix;

    @Option(names = "--upstream", paramLabel = "URL", split = ",",
            description = "Reverse proxy: serve every host and path from this upstream: http://HOST:PORT (HTTP/1.1), "
                    + "h2c://HOST:PORT (HTTP/2 cleartext, gRPC) or https://HOST:PORT (TLS; HTTP/2 or HTTP/1.1 by ALPN) "
                    + "(repeat, or separate with commas, for a pool; --static-dir still wins on its prefix). Replaces "
                    + "the demo site.")
    List<String> upstreams;

    @Option(names = "--upstream-ca", paramLabel = "FILE",
            description = "https:// upstreams: trust the CA certificates in this PEM file instead of the JDK's trust "
                    + "store.")
    Path upstreamCa;

    @Option(names = "--upstream-server-name", paramLabel = "NAME",
            description = "https:// upstreams: the name sent in SNI and checked against the upstream's certificate "
                    + "(default: the upstream URL's host).")
    String upstreamServerName;

    @Option(names = "--upstream-client-cert", paramLabel = "FILE",
            description = "https:// upstreams that require a client certificate (mutual TLS, nginx's "
                    + "proxy_ssl_certificate): this PEM file's certificate, then its intermediates, is presented; "
                    + "with --upstream-client-key.")
    Path upstreamClientCert;

    @Option(names = "--upstream-client-key", paramLabel = "FILE",
            description = "The private key of --upstream-client-cert: PEM, unencrypted PKCS#8 (BEGIN PRIVATE KEY), "
                    + "EC or RSA.")
    Path upstreamClientKey;

    @Option(names = "--upstream-balance", paramLabel = "round-robin|least-requests", defaultValue = "round-robin",
            description = "How a request picks an upstream of the pool: round-robin, or least-requests (the less "
                    + "busy of two picked at random) (default: ${DEFAULT-VALUE}).")
    String upstreamBalance;

    @Option(names = "--upstream-connect-timeout", paramLabel = "DURATION", defaultValue = "5s",
            description = "An upstream connection not established within this fails (tried once more on another "
                    + "upstream; 504 if that fails too) (default: ${DEFAULT-VALUE}).")
    String upstreamConnectTimeout;

    @Option(names = "--upstream-response-timeout", paramLabel = "DURATION", defaultValue = "60s",
            description = "The upstream's first response byte must arrive within this of the request's end, or the "
                    + "client gets 504 (default: ${DEFAULT-VALUE}).")
    String upstreamResponseTimeout;

    @Option(names = "--upstream-idle-timeout", paramLabel = "DURATION", defaultValue = "60s",
            description = "The longest pause of an upstream while it reads the request or sends the response "
                    + "(504 before the response head, a reset stream after) (default: ${DEFAULT-VALUE}).")
    String upstreamIdleTimeout;

    @Option(names = "--upstream-keepalive-timeout", paramLabel = "DURATION", defaultValue = "60s",
            description = "How long an idle upstream connection is kept for the next request (below nginx's "
                    + "keepalive_timeout of 75s, so the proxy closes first) (default: ${DEFAULT-VALUE}).")
    String upstreamKeepAliveTimeout;

    @Option(names = "--upstream-max-idle", paramLabel = "N", defaultValue = "32",
            description = "Idle connections kept per upstream and event loop, like nginx's upstream keepalive and "
                    + "Caddy's keepalive_idle_conns_per_host; raise it to the requests a loop has in flight to one "
                    + "upstream at peak, or connections are closed and opened again (default: ${DEFAULT-VALUE}).")
    int upstreamMaxIdle;

    // ---- forwarding trust, PROXY protocol, upstream health (one block) ----

    @Option(names = "--trusted-proxies", paramLabel = "CIDR,...", defaultValue = "",
            description = "Clients whose X-Forwarded-For/-Proto/-Host and Forwarded headers the proxy keeps and "
                    + "appends to (a balancer or CDN in front), IPv4 or IPv6 networks; everyone else's are replaced "
                    + "(default: none).")
    String trustedProxies;

    @Option(names = "--forwarded-header", paramLabel = "on|off", defaultValue = "off",
            description = "Also send the RFC 7239 Forwarded header upstream (default: ${DEFAULT-VALUE}).")
    String forwardedHeader;

    @Option(names = "--via", paramLabel = "on|off", defaultValue = "off",
            description = "Append this hop to the Via header sent upstream, e.g. 'Via: 3 quicfleet' "
                    + "(default: ${DEFAULT-VALUE}).")
    String via;

    @Option(names = "--upstream-max-5xx", paramLabel = "N", defaultValue = "0",
            description = "Eject an upstream after N consecutive 5xx responses, like after connect failures; 0: "
                    + "responses never eject (default: ${DEFAULT-VALUE}).")
    int upstreamMax5xx;

    @Option(names = "--upstream-health-path", paramLabel = "PATH",
            description = "Active health check: GET this path on every upstream each --upstream-health-interval; a "
                    + "failure (no 2xx/3xx, or no answer) ejects it, a success brings it back (default: none).")
    String upstreamHealthPath;

    @Option(names = "--upstream-health-interval", paramLabel = "DURATION", defaultValue = "5s",
            description = "How often the active health check runs (default: ${DEFAULT-VALUE}).")
    String upstreamHealthInterval;

    @Option(names = "--proxy-protocol-from", paramLabel = "CIDR,...", defaultValue = "",
            description = "TCP connections from these networks (an L4 balancer) must start with a PROXY protocol v2 "
                    + "or v1 header, whose client address is used everywhere; a PROXY header from anyone else is "
                    + "refused (default: none).")
    String proxyProtocolFrom;

    @Option(names = "--access-log", paramLabel = "FILE",
            description = "Write a line per request to FILE (appended; {slot} in the name: one file per worker, "
                    + "else the workers share it). Reopened on SIGUSR1. Off by default.")
    String accessLog;

    @Option(names = "--access-log-format", paramLabel = "combined|json", defaultValue = "combined",
            description = "The access log's format: nginx's combined, or one JSON object per line with every field "
                    + "(default: ${DEFAULT-VALUE}).")
    String accessLogFormat;

    @Option(names = "--compression", paramLabel = "on|off", defaultValue = "on",
            description = "Compress responses of text-like types (zstd, br or gzip, as the client's Accept-Encoding "
                    + "ranks them; zstd > br > gzip at equal q) (default: ${DEFAULT-VALUE}).")
    String compression;

    @Option(names = "--websocket", paramLabel = "on|off", defaultValue = "on",
            description = "Serve WebSocket handshakes: HTTP/1.1 Upgrade, and extended CONNECT advertised on HTTP/2 and "
                    + "HTTP/3 (RFC 8441, RFC 9220); off: Upgrade: websocket is a plain request, :protocol a stream "
                    + "error (default: ${DEFAULT-VALUE}).")
    String webSocket;

    @Option(names = "--compression-min-length", paramLabel = "BYTES", defaultValue = "512",
            description = "Bodies shorter than this (by Content-Length) are not compressed (default: ${DEFAULT-VALUE}).")
    int compressionMinLength;

    @Option(names = "--gzip-level", paramLabel = "1..9", defaultValue = "5",
            description = "gzip level (default: ${DEFAULT-VALUE}).")
    int gzipLevel;

    @Option(names = "--brotli-quality", paramLabel = "0..11", defaultValue = "4",
            description = "Brotli quality for responses made on the fly (default: ${DEFAULT-VALUE}).")
    int brotliQuality;

    @Option(names = "--zstd-level", paramLabel = "1..22", defaultValue = "3",
            description = "zstd level (default: ${DEFAULT-VALUE}).")
    int zstdLevel;

    /** Runs the worker; returns only by exiting the JVM. */
    private static final String LEAK_DETECTION = "io.netty.leakDetection.level";

    public static void main(String[] args) {
        // Every log line carries the slot, in the chosen format: both are read when the first logger is created.
        System.setProperty("quicfleet.slot", preScan(args, "--slot", "0"));
        System.setProperty("quicfleet.log.format", preScan(args, "--log-format", "text"));
        // Netty's leak detector samples buffers on every allocation (0.9 us a request, measured): off in a serving
        // worker unless asked for (--worker-jvm-opts -Dio.netty.leakDetection.level=simple); on in the tests.
        if (System.getProperty(LEAK_DETECTION) == null) {
            System.setProperty(LEAK_DETECTION, "disabled");
        }
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Parses, starts, serves until a signal, drains. Returns the exit code. */
    static int run(String[] args, PrintWriter out, PrintWriter err) {
        Parsed parsed;
        Router.Builder siteRoutes = null;
        Map<String, ProxyService> pools = new LinkedHashMap<>();
        try {
            parsed = parseAll(args, out);
            if (parsed != null && parsed.sites() != null) {
                // Before joining the supervisor: an app that cannot load is the operator's to fix (exit 2), and on a
                // reload the old workers keep serving.
                siteRoutes = Router.builder();
                SiteRoutes sites = SiteRoutes.addTo(siteRoutes, parsed.sites(), flagRoutes(parsed.config()),
                        new AppLoader(WorkerMain.class.getClassLoader()));
                pools.putAll(sites.pools());
                LoggerFactory.getLogger(WorkerMain.class).info("sites: {} from {}", sites.describe(),
                        preScan(args, "--config", null));
            }
        } catch (SiteConfigException e) {
            err.println("error: " + e.getMessage());
            return EXIT_CONFIG;
        } catch (CommandLine.ParameterException | IllegalArgumentException e) {
            err.println("error: " + e.getMessage());
            err.println("(run with --help for the list of options)");
            return EXIT_CONFIG;
        }
        String shm = preScan(args, "--shm-dir", null);
        int handoverPeer = Integer.parseInt(preScan(args, "--handover-peer", "0"));
        return parsed == null ? 0 : serve(parsed.config(), siteRoutes, pools, supervisorSocket(args),
                shm == null ? null : Path.of(shm), handoverPeer, out, err);
    }

    /** The options and, when the {@code --config} file has a {@code sites} key, the sites. */
    record Parsed(WorkerConfig config, SiteConfig sites) {
    }

    /** The paths the flags route for every host ({@code --static-prefix}, {@code /} for {@code --upstream}). */
    static Set<String> flagRoutes(WorkerConfig config) {
        Set<String> paths = new HashSet<>();
        if (config.staticDir() != null) {
            paths.add(config.staticPrefix());
        }
        if (config.proxy() != null) {
            paths.add("/");
        }
        return paths;
    }

    /**
     * Parses flags (and the YAML file named by {@code --config}) into a validated config; {@code null} when help or
     * the version was printed to {@code out}.
     *
     * @throws CommandLine.ParameterException for a malformed flag
     * @throws IllegalArgumentException       for a value out of range, naming the key
     */
    static WorkerConfig parse(String[] args, PrintWriter out) {
        Parsed parsed = parseAll(args, out);
        return parsed == null ? null : parsed.config();
    }

    /**
     * As {@link #parse}, with the sites of the {@code --config} file ({@code null} when it has none).
     *
     * @throws SiteConfigException for a bad key or value under {@code sites}
     */
    static Parsed parseAll(String[] args, PrintWriter out) {
        WorkerMain options = new WorkerMain();
        CommandLine cli = new CommandLine(options).setOut(out).setErr(out);
        String file = preScan(args, "--config", null);
        YamlDefaults defaults = null;
        if (file != null) {
            defaults = new YamlDefaults(Path.of(file), cli);
            cli.setDefaultValueProvider(defaults);
        }
        CommandLine.ParseResult parsed = cli.parseArgs(args);
        if (CommandLine.printHelpIfRequested(parsed)) {
            return null;
        }
        WorkerConfig config = options.toConfig();
        SiteConfig sites = defaults == null || defaults.sites == null ? null
                : SiteConfigParser.parse(defaults.sites, Path.of(file).toAbsolutePath().getParent(),
                        options::proxyOptions);
        return new Parsed(config, sites);
    }

    private static int serve(WorkerConfig config, Router.Builder siteRoutes, Map<String, ProxyService> pools,
                             Path supervisorSocket, Path shmDir,
                             int handoverPeer, PrintWriter out, PrintWriter err) {
        Logger log = LoggerFactory.getLogger(WorkerMain.class);
        SupervisorLink link = null;
        if (supervisorSocket != null) {
            try {
                link = SupervisorLink.connect(supervisorSocket, config.slot(), Duration.ofSeconds(30));
            } catch (IOException e) {
                err.println("error: " + e.getMessage());
                return 1;
            }
            config = config.withAdoptedSockets(link.udpFd(), link.tcpFd());
        }
        Transport transport;
        try {
            transport = Worker.resolveTransport(config);
        } catch (TransportUnavailableException | IllegalArgumentException e) {
            return fail(link, err, EXIT_CONFIG, e.getMessage());
        }
        Worker worker = buildWorker(config, transport, siteRoutes, pools);
        TicketKeySync tickets = null;
        if (shmDir != null) {
            // The cluster's ticket, Retry token and stateless-reset keys, from the shared map: opening it takes a
            // second or more, so it starts now, beside the worker's TLS set-up; the worker binds (and says ready)
            // only once it has applied them, so it never issues or checks a ticket with keys of its own.
            tickets = new TicketKeySync(SharedSecretsConfig.builder(config.port()).directory(shmDir).build(),
                    worker::setTicketKeys, worker.sharedQuicKeys());
            tickets.start();
            worker.replayRegister(tickets::firstUse);
            worker.serveOnlyAfter(tickets.applied(), SHARED_KEYS_TIMEOUT);
        }
        try {
            worker.start().join();
            for (ProxyService pool : pools.values()) {
                pool.startHealthChecks(worker.eventLoop());
            }
        } catch (CompletionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof TlsConfigException || cause instanceof ListenerException
                    || cause instanceof IllegalArgumentException || cause instanceof UnsupportedOperationException) {
                return fail(link, err, EXIT_CONFIG, cause.getMessage());
            }
            if (cause instanceof SharedKeysUnavailableException) {
                return fail(link, err, 1, cause.getMessage());
            }
            log.error("worker failed to start", cause);
            return fail(link, err, 1, "worker failed to start: " + cause);
        }
        CountDownLatch stop = new CountDownLatch(1);
        AtomicInteger signals = new AtomicInteger();
        Runnable onSignal = () -> {
            if (signals.incrementAndGet() == 1) {
                stop.countDown();
            } else {
                log.warn("second signal: stopping now without waiting for in-flight requests");
                worker.stop();
                Runtime.getRuntime().halt(1);
            }
        };
        Signals.handle(onSignal, "TERM", "INT");
        Signals.handle(worker::reopenAccessLog, "USR1"); // logrotate's postrotate, as for nginx
        boolean[] orphaned = new boolean[1];
        Duration orphanDrain = min(config.drainTimeout(), ORPHAN_DRAIN);
        if (link != null) {
            // A supervisor that died (even by SIGKILL) closes the socket: drain briefly and go, leaving no orphan.
            link.closeFuture().addListener(f -> {
                if (stop.getCount() > 0) {
                    orphaned[0] = true;
                    log.warn("the supervisor is gone: draining for at most {} and exiting",
                            ConfigValues.format(orphanDrain));
                    // Nobody respawns or kills an orphan: whatever the drain and close still wait for, it is gone
                    // by ORPHAN_EXIT (the README promises 2 s after the supervisor's death).
                    Thread.ofPlatform().daemon().name("quicfleet-orphan-exit").start(() -> {
                        long deadline = System.nanoTime() + ORPHAN_EXIT.toNanos();
                        for (long left; (left = deadline - System.nanoTime()) > 0; ) {
                            LockSupport.parkNanos(left);
                        }
                        log.warn("the supervisor is gone and closing took more than {}: exiting now",
                                ConfigValues.format(ORPHAN_EXIT));
                        Runtime.getRuntime().halt(1);
                    });
                    stop.countDown();
                }
            });
        }
        TlsMaterial tls = worker.tls();
        if (tls.generated()) {
            log.info("development certificate {} (for Chromium: --ignore-certificate-errors-spki-list={})",
                    tls.certFile(), tls.spkiSha256Base64());
        }
        String host = config.address().getHostAddress();
        out.printf("ready: worker %d pid %d udp+tcp %s:%d transport %s%n", config.slot(), ProcessHandle.current().pid(),
                host.contains(":") ? "[" + host + "]" : host, worker.port(), worker.transport().id());
        out.flush();
        if (link != null) {
            if (handoverPeer > 0) {
                worker.shareSlotWith(handoverPeer); // a reload: the worker this one replaces drains on our socket
            }
            boolean[] handedOver = new boolean[1];
            link.serveScrapes(() -> worker.metrics().scrape(WorkerScrapeFetcher.ACCEPT).body(),
                    port -> {
                        worker.shareSlotWith(port);
                        if (port > 0 && stop.getCount() > 0) {
                            handedOver[0] = true; // a reload: the new worker of this slot is ready
                            log.info("replaced by a reloaded worker: passing on new connections and draining");
                            stop.countDown();
                        }
                    },
                    worker::reopenAccessLog);
            link.ready(worker.port(), worker.transport().id(), worker.handoverPort());
        }
        while (stop.getCount() > 0) {
            try {
                stop.await();
            } catch (InterruptedException e) {
                // only a signal (or losing the supervisor) ends serving
            }
        }
        Duration deadline = orphaned[0] ? orphanDrain : config.drainTimeout();
        if (!orphaned[0]) {
            log.info("signal received: draining (deadline {})", ConfigValues.format(deadline));
        }
        try {
            worker.drain(deadline).join();
        } catch (CompletionException e) {
            log.error("stopping failed", e.getCause());
            return 1;
        } finally {
            if (tickets != null) {
                tickets.close();
            }
            if (link != null) {
                link.close();
            }
        }
        log.info("stopped");
        return 0;
    }

    /**
     * How long a worker whose supervisor died keeps draining before it closes everything. Where the README's 2 s went
     * (measured with a request in flight, 2 workers, a 2-core machine at load average 20): the worker notices the
     * control socket closing 0.15-0.9 s after the kill (the kernel closes a killed process's sockets only after
     * tearing down its memory, and the event loop must get a CPU); the drain then ran to its deadline with the
     * request in flight, 2 s, and closing took 0.1-0.25 s more; the JVM's exit another 0.3-0.4 s: 2.7-2.9 s in all
     * (the 3.9 s measured before was partly the measurement: {@code ProcessHandle.onExit()} polls a process that is
     * not one's child every 300+ ms). With 0.5 s of drain and the halt below: 1.3-1.7 s after the supervisor died.
     */
    private static final Duration ORPHAN_DRAIN = Duration.ofMillis(500);
    /** The hard bound: an orphan still running this long after it noticed its supervisor's death halts. */
    private static final Duration ORPHAN_EXIT = Duration.ofMillis(1200);
    /**
     * How long a worker under a supervisor waits for the cluster's keys before it gives up (the supervisor creates
     * the map before it starts workers; opening it takes 1-2 s in a fresh JVM, and tens of seconds on an overloaded
     * machine: measured 20+ s at a load average of 20 on 2 cores).
     */
    private static final Duration SHARED_KEYS_TIMEOUT = Duration.ofSeconds(120);

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    /** Prints the one error line, tells the supervisor (if any), and returns {@code exitCode}. */
    private static int fail(SupervisorLink link, PrintWriter err, int exitCode, String message) {
        err.println("error: " + message);
        err.flush();
        if (link != null) {
            link.failed(exitCode, message);
            link.close();
        }
        return exitCode;
    }

    /**
     * Assembles the worker's site: the proxy or the demo routes, optional static files; with {@code siteRoutes} (the
     * config file's sites) instead of the demo routes, the flags' routes beside them. {@code pools} holds the site
     * file's upstream pools; the flags' pool ({@code --upstream}) is added to it as {@code default}, and each pool's
     * meters are bound to the worker's registry.
     */
    private static Worker buildWorker(WorkerConfig config, Transport transport, Router.Builder siteRoutes,
                                      Map<String, ProxyService> pools) {
        WorkerIdentity identity = new WorkerIdentity(config.slot(), ProcessHandle.current().pid(), transport.id());
        Worker[] self = new Worker[1];
        Router.Builder routes = siteRoutes != null ? siteRoutes : Router.builder();
        if (config.staticDir() != null) {
            routes.route(config.staticPrefix(), new StaticFiles(config.staticDir()));
        }
        if (config.proxy() != null) {
            // Every host and path but the static prefix goes upstream.
            ProxyService proxy = new ProxyService(config.proxy());
            pools.put("default", proxy);
            routes.route("/", proxy);
        } else if (siteRoutes == null) {
            // Static files mounted on "/" take the place of the demo page; the other demo routes stay.
            boolean staticOnRoot = config.staticDir() != null && config.staticPrefix().equals("/");
            new DemoSite(identity, () -> self[0] != null && self[0].draining()).addTo(routes, !staticOnRoot);
        }
        self[0] = new Worker(config, routes.build(), transport);
        pools.forEach((name, pool) -> pool.bindMetrics(self[0].metrics().registry(), name));
        return self[0];
    }

    WorkerConfig toConfig() {
        InetAddress bind;
        try {
            bind = InetAddress.getByName(address);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("address: " + address + " (expected: an IP address of this machine)");
        }
        WorkerConfig.Builder builder = WorkerConfig.builder()
                .address(bind)
                .port(port)
                .tls(cert, key)
                .transport(transport)
                .ioThreads(ioThreads)
                .slot(slot)
                .reusePort(reusePort)
                .adopt(udpFd, tcpFd)
                .drainTimeout(ConfigValues.duration("drain-timeout", drainTimeout))
                .idleTimeout(ConfigValues.duration("idle-timeout", idleTimeout))
                .bodyTimeout(ConfigValues.duration("body-timeout", bodyTimeout))
                .headerTimeout(ConfigValues.duration("header-timeout", headerTimeout))
                .bodyMinRate(WorkerConfig.parseRate("body-min-rate", bodyMinRate))
                .quic(new QuicLimits(Duration.ofSeconds(30), quicMaxStreams,
                        ConfigValues.size("quic-max-data", quicMaxData),
                        ConfigValues.size("quic-max-stream-data", quicMaxStreamData), quicMaxUdpPayload,
                        quicGsoSegments, (int) Math.min(Integer.MAX_VALUE,
                        ConfigValues.size("udp-socket-buffer", udpSocketBuffer)))
                        .withHandshakeTimeout(ConfigValues.duration("handshake-timeout", handshakeTimeout))
                        .withPmtuDiscovery(onOff("quic-pmtu-discovery", quicPmtuDiscovery)))
                .staticFiles(staticDir, staticPrefix)
                .earlyData(EarlyDataPolicy.parse(earlyData))
                .serverId(serverId)
                .retry(RetryTokens.Mode.parse(retry), retryThreshold)
                .statelessReset(onOff("stateless-reset", statelessReset),
                        ConfigValues.duration("stateless-reset-holdoff", statelessResetHoldoff))
                .accessLog(accessLog, AccessLogFormat.parse("access-log-format", accessLogFormat))
                .compression(new CompressionConfig(onOff("compression", compression), gzipLevel, brotliQuality,
                        zstdLevel, compressionMinLength))
                .webSocket(onOff("websocket", webSocket));
        if (stateDir != null) {
            builder.stateDir(stateDir);
        }
        // Parsed even without --upstream: a typo in a proxy option is reported, not ignored.
        ProxyConfig.Builder proxy = proxyOptions();
        builder.proxyProtocolFrom(TrustedNetworks.parse("proxy-protocol-from", proxyProtocolFrom));
        if (upstreams != null && !upstreams.isEmpty()) {
            for (String upstream : upstreams) {
                proxy.upstream(upstream);
            }
            builder.proxy(proxy.build());
        }
        if (staticDir != null && !Files.isDirectory(staticDir)) {
            throw new IllegalArgumentException("static-dir: " + staticDir + " (expected: an existing directory)");
        }
        return builder.build();
    }

    /**
     * The proxy options of the flags (and of the config file's top-level keys), without upstreams: the start of the
     * {@code --upstream} pool and of every pool of the site file, whose own keys then override them.
     *
     * @throws IllegalArgumentException for a bad value, naming its flag
     */
    ProxyConfig.Builder proxyOptions() {
        return ProxyConfig.builder()
                .balance(ProxyConfig.Balance.parse(upstreamBalance))
                .connectTimeout(ConfigValues.duration("upstream-connect-timeout", upstreamConnectTimeout))
                .responseTimeout(ConfigValues.duration("upstream-response-timeout", upstreamResponseTimeout))
                .idleTimeout(ConfigValues.duration("upstream-idle-timeout", upstreamIdleTimeout))
                .keepAlive(ConfigValues.duration("upstream-keepalive-timeout", upstreamKeepAliveTimeout),
                        upstreamMaxIdle)
                .trustedProxies(TrustedNetworks.parse("trusted-proxies", trustedProxies))
                .forwardingHeaders(onOff("forwarded-header", forwardedHeader), onOff("via", via))
                .max5xx(upstreamMax5xx)
                .healthCheck(upstreamHealthPath,
                        ConfigValues.duration("upstream-health-interval", upstreamHealthInterval))
                .upstreamCa(upstreamCa)
                .upstreamServerName(upstreamServerName)
                .upstreamClientCertificate(upstreamClientCert, upstreamClientKey);
    }

    private static boolean onOff(String key, String value) {
        return switch (value.trim().toLowerCase(Locale.ROOT)) {
            case "on", "true", "yes" -> true;
            case "off", "false", "no" -> false;
            default -> throw new IllegalArgumentException(key + ": " + value + " (expected: on or off)");
        };
    }

    private static Path supervisorSocket(String[] args) {
        String path = preScan(args, "--supervisor-socket", null);
        return path == null ? null : Path.of(path);
    }

    /** Finds {@code --name VALUE} or {@code --name=VALUE} before picocli runs. */
    static String preScan(String[] args, String name, String fallback) {
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals(name) && i + 1 < args.length) {
                return args[i + 1];
            }
            if (args[i].startsWith(name + "=")) {
                return args[i].substring(name.length() + 1);
            }
        }
        return fallback;
    }

    /** Option defaults from a YAML file whose keys are the long option names without dashes. */
    static final class YamlDefaults implements CommandLine.IDefaultValueProvider {
        private final Map<String, String> values = new HashMap<>();
        /** The {@code sites} key's value, or {@code null}. */
        JsonNode sites;

        YamlDefaults(Path file, CommandLine cli) {
            JsonNode root;
            try {
                root = new ObjectMapper(new YAMLFactory().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION))
                        .readTree(file.toFile());
            } catch (JsonProcessingException e) {
                // one line: where, and what the YAML parser says (its message spans lines with a snippet)
                JsonLocation at = e.getLocation();
                int line = at == null ? -1 : at.getLineNr();
                int column = at == null ? -1 : at.getColumnNr();
                String message = e.getOriginalMessage() == null ? e.getClass().getSimpleName()
                        : e.getOriginalMessage().strip().lines().findFirst().orElse("");
                if (e.getCause() instanceof MarkedYAMLException yaml && yaml.getProblem() != null) {
                    // SnakeYAML's own parts: what it was doing, what it found, and where the problem is
                    message = (yaml.getContext() != null ? yaml.getContext() + ": " : "") + yaml.getProblem();
                    if (yaml.getProblemMark() != null) {
                        line = yaml.getProblemMark().getLine() + 1;
                        column = yaml.getProblemMark().getColumn() + 1;
                    }
                }
                throw new IllegalArgumentException("config: " + file + (line < 0 ? "" : " line " + line + " column "
                        + column) + ": " + message + " (expected: YAML; quote values that start with * or contain "
                        + "\": \")");
            } catch (IOException e) {
                throw new IllegalArgumentException("config: cannot read " + file + ": " + e.getMessage());
            }
            if (root == null || root.isMissingNode() || root.isNull()) {
                return;
            }
            if (!root.isObject()) {
                throw new IllegalArgumentException("config: " + file + " (expected: a YAML mapping of option names "
                        + "to values, e.g. \"port: 4433\")");
            }
            Set<String> known = new TreeSet<>();
            Set<String> multiValue = new TreeSet<>();
            for (OptionSpec option : cli.getCommandSpec().options()) {
                known.add(option.longestName().replaceFirst("^--", ""));
                if (option.isMultiValue()) {
                    multiValue.add(option.longestName().replaceFirst("^--", ""));
                }
            }
            known.removeAll(Set.of("help", "version", "config"));
            known.add("sites");
            for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> field = it.next();
                if (field.getKey().equals("sites")) {
                    sites = field.getValue();
                    continue;
                }
                if (!known.contains(field.getKey())) {
                    throw new IllegalArgumentException("config: unknown key \"" + field.getKey() + "\" in " + file
                            + " (expected one of: " + String.join(", ", known) + ")");
                }
                JsonNode value = field.getValue();
                if (value.isArray() && multiValue.contains(field.getKey())) {
                    // A list for an option that repeats (upstream): its values, as the comma-separated flag takes them.
                    List<String> items = new ArrayList<>();
                    for (JsonNode item : value) {
                        if (!item.isValueNode()) {
                            throw new IllegalArgumentException("config: " + field.getKey() + " in " + file
                                    + " (expected: a list of single values)");
                        }
                        items.add(item.asText());
                    }
                    values.put(field.getKey(), String.join(",", items));
                    continue;
                }
                if (!value.isValueNode()) {
                    throw new IllegalArgumentException("config: " + field.getKey() + " in " + file
                            + " (expected: a single value, not a list or mapping)");
                }
                values.put(field.getKey(), value.asText());
            }
        }

        @Override
        public String defaultValue(ArgSpec argSpec) {
            if (argSpec instanceof OptionSpec option) {
                String value = values.get(option.longestName().replaceFirst("^--", ""));
                if (value != null) {
                    return value;
                }
                return option.defaultValue();
            }
            return null;
        }
    }

    /** {@code --version}: the jar's implementation version. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String version = WorkerMain.class.getPackage().getImplementationVersion();
            return new String[] {"quicfleet worker " + (version == null ? "(development build)" : version)};
        }
    }
}
