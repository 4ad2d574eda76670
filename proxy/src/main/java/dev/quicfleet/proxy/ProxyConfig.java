package dev.quicfleet.proxy;

import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * What a {@link ProxyService} forwards to and how patiently. Immutable and validated on construction: a bad value
 * fails with a message naming the key (as on the command line), the value and what is expected.
 *
 * <p>The timeouts default to what users of nginx and Caddy expect: nginx's {@code proxy_read_timeout} and
 * {@code proxy_send_timeout} (60 s) for the response's first byte and for the pauses between bytes, and a connect
 * timeout closer to Caddy's dial timeout than to nginx's 60 s, because an upstream on the same network that has not
 * accepted in 5 s is down.
 *
 * @param upstreams         the pool: {@code http://HOST:PORT} (HTTP/1.1), {@code h2c://HOST:PORT} (HTTP/2 with prior
 *                          knowledge) or {@code https://HOST:PORT} (TLS; HTTP/2 or HTTP/1.1 as ALPN decides) each,
 *                          in order, without duplicates
 * @param balance           how an exchange picks an upstream
 * @param connectTimeout    a connection not established within this counts as a connect failure
 * @param responseTimeout   from the request's last byte to the response's first: {@code 504} when exceeded
 * @param idleTimeout       the longest pause between bytes while the request is sent or the response is read
 *                          (not counted while the client is the one that is slow): {@code 504} before the response
 *                          started, a reset stream after
 * @param maxFails          consecutive connect failures after which an upstream is ejected from the pool
 * @param failBackoff       how long an upstream stays ejected the first time; doubles on each failed retry, up to
 *                          {@link #MAX_BACKOFF}, and resets with the first successful connect
 * @param keepAliveTimeout  an idle pooled connection is closed after this (below nginx's {@code keepalive_timeout}
 *                          of 75 s, so the proxy, not the upstream, closes: no request races a closing connection)
 * @param maxIdlePerUpstream idle connections kept per upstream and event loop
 * @param trustedProxies    peers whose {@code X-Forwarded-*} and {@code Forwarded} fields are kept and appended to;
 *                          everyone else's are replaced
 * @param forwarded         also send an RFC 7239 {@code Forwarded} element
 * @param via               also append this hop to {@code Via} ({@code 3 quicfleet}, {@code 2 quicfleet},
 *                          {@code 1.1 quicfleet} by the client's protocol)
 * @param max5xx            consecutive 5xx responses after which an upstream is ejected like after
 *                          {@code maxFails} connect failures; 0: responses never eject
 * @param healthPath        the path an active health check GETs on every upstream, or {@code null} for none; a
 *                          failed check ejects the upstream, a 2xx/3xx one brings it back
 * @param healthInterval    how often the active health check runs (per worker, from one event loop)
 * @param upstreamCa        for {@code https://} upstreams: a PEM file of the CA certificates to trust instead of the
 *                          JDK's trust store; {@code null}: the JDK's
 * @param upstreamServerName for {@code https://} upstreams: the name sent in SNI and checked against the upstream's
 *                          certificate; {@code null}: the upstream URL's host
 * @param upstreamClientCert for {@code https://} upstreams that ask for a client certificate (mutual TLS): a PEM
 *                          file with the certificate the proxy presents, then its intermediates; {@code null}: none
 *                          (with {@code upstreamClientKey}, both or neither)
 * @param upstreamClientKey the private key of {@code upstreamClientCert}: a PEM file, unencrypted PKCS#8, EC or RSA
 */
public record ProxyConfig(List<URI> upstreams, Balance balance, Duration connectTimeout, Duration responseTimeout,
                          Duration idleTimeout, int maxFails, Duration failBackoff, Duration keepAliveTimeout,
                          int maxIdlePerUpstream,
                          TrustedNetworks trustedProxies, boolean forwarded, boolean via, int max5xx,
                          String healthPath, Duration healthInterval, Path upstreamCa, String upstreamServerName,
                          Path upstreamClientCert, Path upstreamClientKey) {

    /** The longest an ejected upstream waits before it is tried again. */
    public static final Duration MAX_BACKOFF = Duration.ofMinutes(2);

    /** How an exchange picks an upstream among the healthy ones. */
    public enum Balance {
        /** Each in turn (per event loop). */
        ROUND_ROBIN("round-robin"),
        /** The one with fewer requests in flight of two picked at random: power of two choices. */
        LEAST_REQUESTS("least-requests");

        private final String id;

        Balance(String id) {
            this.id = id;
        }

        /** The name on the command line: {@code round-robin} or {@code least-requests}. */
        public String id() {
            return id;
        }

        /** The balance named {@code id}; the message names the key and the choices otherwise. */
        public static Balance parse(String id) {
            for (Balance balance : values()) {
                if (balance.id.equalsIgnoreCase(id.trim())) {
                    return balance;
                }
            }
            throw new IllegalArgumentException("upstream-balance: " + id
                    + " (expected: round-robin or least-requests)");
        }

        @Override
        public String toString() {
            return id;
        }
    }

    /** Validates every field. */
    public ProxyConfig {
        Objects.requireNonNull(upstreams, "upstreams");
        if (upstreams.isEmpty()) {
            throw new IllegalArgumentException("upstream: none given (expected: at least one http://HOST:PORT)");
        }
        List<URI> checked = new ArrayList<>(upstreams.size());
        for (URI uri : upstreams) {
            checked.add(parseUpstream(uri.toString()));
        }
        if (new LinkedHashSet<>(checked).size() != checked.size()) {
            throw new IllegalArgumentException("upstream: " + checked + " lists an upstream twice (expected: "
                    + "each upstream once)");
        }
        upstreams = List.copyOf(checked);
        balance = balance == null ? Balance.ROUND_ROBIN : balance;
        checkDuration("upstream-connect-timeout", connectTimeout, Duration.ofMillis(10), Duration.ofMinutes(10));
        checkDuration("upstream-response-timeout", responseTimeout, Duration.ofMillis(10), Duration.ofHours(24));
        checkDuration("upstream-idle-timeout", idleTimeout, Duration.ofMillis(10), Duration.ofHours(24));
        if (maxFails < 1 || maxFails > 1000) {
            throw new IllegalArgumentException("upstream-max-fails: " + maxFails + " (expected: 1..1000)");
        }
        checkDuration("upstream-fail-backoff", failBackoff, Duration.ofMillis(10), MAX_BACKOFF);
        checkDuration("upstream-keepalive-timeout", keepAliveTimeout, Duration.ofSeconds(1), Duration.ofHours(1));
        if (maxIdlePerUpstream < 0 || maxIdlePerUpstream > 10_000) {
            throw new IllegalArgumentException("upstream-max-idle: " + maxIdlePerUpstream + " (expected: 0..10000)");
        }
        trustedProxies = trustedProxies == null ? TrustedNetworks.NONE : trustedProxies;
        checkMax5xx(max5xx);
        healthPath = checkHealthPath(healthPath);
        checkDuration("upstream-health-interval", healthInterval, Duration.ofMillis(100), Duration.ofHours(1));
        if (upstreamCa != null) {
            UpstreamTls.readCertificates(upstreamCa); // a bad file is named now, not at the first request
        }
        if (upstreamServerName != null && (upstreamServerName.isBlank() || upstreamServerName.contains("/")
                || upstreamServerName.contains(":"))) {
            throw new IllegalArgumentException("upstream-server-name: " + upstreamServerName
                    + " (expected: a host name such as api.internal)");
        }
        checkClientPair(upstreamClientCert, upstreamClientKey);
        if (upstreamClientCert != null) {
            // a bad file, or a key of another certificate, is named now, not as a failed handshake per request
            UpstreamClientCertificate.read(upstreamClientCert, upstreamClientKey);
        }
    }

    /** Both or neither: a certificate without its key (or the reverse) cannot be presented. */
    private static void checkClientPair(Path cert, Path key) {
        if ((cert == null) != (key == null)) {
            String missing = cert == null ? UpstreamClientCertificate.CERT_KEY : UpstreamClientCertificate.KEY_KEY;
            String given = cert == null ? UpstreamClientCertificate.KEY_KEY + " is " + key
                    : UpstreamClientCertificate.CERT_KEY + " is " + cert;
            throw new IllegalArgumentException(missing + ": missing (" + given + "; expected: both "
                    + UpstreamClientCertificate.CERT_KEY + " and " + UpstreamClientCertificate.KEY_KEY
                    + ", or neither)");
        }
    }

    private static int checkMax5xx(int max5xx) {
        if (max5xx < 0 || max5xx > 1000) {
            throw new IllegalArgumentException("upstream-max-5xx: " + max5xx + " (expected: 0..1000, 0 for off)");
        }
        return max5xx;
    }

    private static String checkHealthPath(String path) {
        if (path == null || path.isBlank()) {
            return null;
        }
        if (!path.startsWith("/") || path.chars().anyMatch(c -> c <= ' ' || c >= 0x7f)) {
            throw new IllegalArgumentException("upstream-health-path: " + path
                    + " (expected: a path such as /healthz, starting with /, without spaces)");
        }
        return path;
    }

    /** A builder with the defaults and the given upstreams ({@code http://HOST:PORT} each). */
    public static Builder builder(String... upstreams) {
        Builder builder = new Builder();
        for (String upstream : upstreams) {
            builder.upstream(upstream);
        }
        return builder;
    }

    /**
     * Parses an upstream URL: {@code http://HOST:PORT}, {@code h2c://HOST:PORT} or {@code https://HOST:PORT} with a
     * host this machine resolves (resolved once, here and when the proxy starts: never on an event loop). A trailing {@code /} is accepted.
     *
     * @throws IllegalArgumentException naming the key {@code upstream}, the value and what is expected
     */
    public static URI parseUpstream(String text) {
        Objects.requireNonNull(text, "upstream");
        URI uri;
        try {
            uri = new URI(text.trim());
        } catch (URISyntaxException e) {
            throw badUpstream(text, "not a URL");
        }
        String scheme = uri.getScheme();
        if (scheme == null || !uri.isAbsolute() || uri.getRawAuthority() == null) {
            throw badUpstream(text, "no scheme://host:port");
        }
        scheme = scheme.toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("h2c") && !scheme.equals("https")) {
            throw badUpstream(text, "scheme " + scheme + " is not supported");
        }
        if (uri.getHost() == null) {
            throw badUpstream(text, "no host");
        }
        if (uri.getPort() < 1 || uri.getPort() > 65535) {
            throw badUpstream(text, "no port");
        }
        if (uri.getRawUserInfo() != null) {
            throw badUpstream(text, "user info is not supported");
        }
        String path = uri.getRawPath();
        if (path != null && !path.isEmpty() && !path.equals("/") || uri.getRawQuery() != null
                || uri.getRawFragment() != null) {
            throw badUpstream(text, "a path, query or fragment is not supported yet: requests keep their own path");
        }
        String host = uri.getHost().toLowerCase(Locale.ROOT);
        try {
            InetAddress.getByName(host.startsWith("[") ? host.substring(1, host.length() - 1) : host);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("upstream: " + text + " (cannot resolve " + uri.getHost()
                    + "; expected: a host name this machine resolves, or an IP address)");
        }
        return URI.create(scheme + "://" + host + ":" + uri.getPort());
    }

    private static IllegalArgumentException badUpstream(String text, String problem) {
        return new IllegalArgumentException("upstream: " + text + " (" + problem
                + "; expected: http://HOST:PORT, h2c://HOST:PORT or https://HOST:PORT such as http://127.0.0.1:8080)");
    }

    private static void checkDuration(String key, Duration value, Duration min, Duration max) {
        if (value == null || value.compareTo(min) < 0 || value.compareTo(max) > 0) {
            throw new IllegalArgumentException(key + ": " + (value == null ? "missing" : format(value))
                    + " (expected: " + format(min) + ".." + format(max) + ")");
        }
    }

    /** {@code 5s}, {@code 250ms}, {@code 2m}, {@code 1h}: how durations are written on the command line. */
    static String format(Duration value) {
        if (value.getSeconds() >= Long.MAX_VALUE / 1000 || value.isNegative()) {
            return value.getSeconds() + "s"; // beyond milliseconds (or below zero): toMillis() would overflow
        }
        long ms = value.toMillis();
        if (ms != 0 && ms % 3_600_000 == 0) {
            return ms / 3_600_000 + "h";
        }
        if (ms != 0 && ms % 60_000 == 0) {
            return ms / 60_000 + "m";
        }
        return ms % 1000 == 0 ? ms / 1000 + "s" : ms + "ms";
    }

    /** Builds a {@link ProxyConfig}; everything but the upstreams has a default. */
    public static final class Builder {
        private final List<URI> upstreams = new ArrayList<>();
        private Balance balance = Balance.ROUND_ROBIN;
        private Duration connectTimeout = Duration.ofSeconds(5);
        private Duration responseTimeout = Duration.ofSeconds(60);
        private Duration idleTimeout = Duration.ofSeconds(60);
        private int maxFails = 3;
        private Duration failBackoff = Duration.ofSeconds(10);
        private Duration keepAliveTimeout = Duration.ofSeconds(60);
        private int maxIdlePerUpstream = 32;
        private TrustedNetworks trustedProxies = TrustedNetworks.NONE;
        private boolean forwarded;
        private boolean via;
        private int max5xx;
        private String healthPath;
        private Duration healthInterval = Duration.ofSeconds(5);
        private Path upstreamCa;
        private String upstreamServerName;
        private Path upstreamClientCert;
        private Path upstreamClientKey;

        private Builder() {
        }

        /** Adds an upstream, {@code http://}, {@code h2c://} or {@code https://HOST:PORT}; checked at once. */
        public Builder upstream(String url) {
            upstreams.add(parseUpstream(url));
            return this;
        }

        public Builder balance(Balance balance) {
            this.balance = balance;
            return this;
        }

        public Builder connectTimeout(Duration connectTimeout) {
            this.connectTimeout = connectTimeout;
            return this;
        }

        public Builder responseTimeout(Duration responseTimeout) {
            this.responseTimeout = responseTimeout;
            return this;
        }

        public Builder idleTimeout(Duration idleTimeout) {
            this.idleTimeout = idleTimeout;
            return this;
        }

        /** Ejects an upstream after {@code maxFails} consecutive connect failures, for {@code backoff} at first. */
        public Builder passiveHealth(int maxFails, Duration backoff) {
            this.maxFails = maxFails;
            this.failBackoff = backoff;
            return this;
        }

        /** As {@link #passiveHealth}, keeping the backoff. */
        public Builder maxFails(int maxFails) {
            this.maxFails = maxFails;
            return this;
        }

        /** How long idle pooled connections live, and how many are kept per upstream and event loop. */
        public Builder keepAlive(Duration timeout, int maxIdle) {
            this.keepAliveTimeout = timeout;
            this.maxIdlePerUpstream = maxIdle;
            return this;
        }

        /** As {@link #keepAlive}, keeping the number of idle connections. */
        public Builder keepAliveTimeout(Duration timeout) {
            this.keepAliveTimeout = timeout;
            return this;
        }

        /** As {@link #keepAlive}, keeping the timeout. */
        public Builder maxIdle(int maxIdle) {
            this.maxIdlePerUpstream = maxIdle;
            return this;
        }

        /** Peers whose forwarding fields are kept and appended to ({@code --trusted-proxies}). */
        public Builder trustedProxies(TrustedNetworks trustedProxies) {
            this.trustedProxies = trustedProxies;
            return this;
        }

        /** Whether to add RFC 7239 {@code Forwarded} ({@code --forwarded-header}) and {@code Via} ({@code --via}). */
        public Builder forwardingHeaders(boolean forwarded, boolean via) {
            this.forwarded = forwarded;
            this.via = via;
            return this;
        }

        /** Ejects an upstream after {@code max5xx} consecutive 5xx responses; 0: never ({@code --upstream-max-5xx}). */
        public Builder max5xx(int max5xx) {
            this.max5xx = checkMax5xx(max5xx);
            return this;
        }

        /** GETs {@code path} on every upstream each {@code interval}; {@code null}: no active health check. */
        public Builder healthCheck(String path, Duration interval) {
            this.healthPath = checkHealthPath(path);
            checkDuration("upstream-health-interval", interval, Duration.ofMillis(100), Duration.ofHours(1));
            this.healthInterval = interval;
            return this;
        }

        /** As {@link #healthCheck}, keeping the interval; {@code null} or blank: no active health check. */
        public Builder healthPath(String path) {
            this.healthPath = checkHealthPath(path);
            return this;
        }

        /** As {@link #healthCheck}, keeping the path. */
        public Builder healthInterval(Duration interval) {
            checkDuration("upstream-health-interval", interval, Duration.ofMillis(100), Duration.ofHours(1));
            this.healthInterval = interval;
            return this;
        }

        /** For {@code https://} upstreams: trust the CA certificates in this PEM file instead of the JDK's. */
        public Builder upstreamCa(Path caFile) {
            this.upstreamCa = caFile;
            return this;
        }

        /** For {@code https://} upstreams: the SNI and certificate name, instead of the URL's host. */
        public Builder upstreamServerName(String serverName) {
            this.upstreamServerName = serverName;
            return this;
        }

        /**
         * For {@code https://} upstreams that ask for one: the client certificate (a PEM chain, the certificate
         * first) and its private key (PEM, unencrypted PKCS#8, EC or RSA), both or neither ({@code null},
         * {@code null}: none). That both are given is checked at once; the files when the config is built.
         */
        public Builder upstreamClientCertificate(Path certFile, Path keyFile) {
            checkClientPair(certFile, keyFile);
            this.upstreamClientCert = certFile;
            this.upstreamClientKey = keyFile;
            return this;
        }

        public ProxyConfig build() {
            return new ProxyConfig(upstreams, balance, connectTimeout, responseTimeout, idleTimeout, maxFails,
                    failBackoff, keepAliveTimeout, maxIdlePerUpstream,
                    trustedProxies, forwarded, via, max5xx, healthPath, healthInterval, upstreamCa,
                    upstreamServerName, upstreamClientCert, upstreamClientKey);
        }
    }
}
