package dev.quicfleet.worker.site;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.quicfleet.proxy.ProxyConfig;
import dev.quicfleet.proxy.TrustedNetworks;
import dev.quicfleet.worker.TestCertificates;
import dev.quicfleet.worker.tls.TlsMaterial;
import dev.quicfleet.worker.site.SiteConfig.App;
import dev.quicfleet.worker.site.SiteConfig.Redirect;
import dev.quicfleet.worker.site.SiteConfig.Respond;
import dev.quicfleet.worker.site.SiteConfig.Site;
import dev.quicfleet.worker.site.SiteConfig.Static;
import dev.quicfleet.worker.site.SiteConfig.Upstream;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code sites} key: what a good file becomes, and the one-line message of every kind of mistake. */
class SiteConfigParserTest {

    @TempDir
    Path dir;

    @BeforeEach
    void files() throws IOException {
        Files.createDirectories(dir.resolve("www"));
        Files.writeString(dir.resolve("app.jar"), "not really a jar: the parser only checks that the file exists");
    }

    private SiteConfig parse(String yaml) throws IOException {
        JsonNode root = new ObjectMapper(new YAMLFactory()).readTree(yaml);
        return SiteConfigParser.parse(root.get("sites"), dir);
    }

    private void assertError(String yaml, String message) {
        assertThatThrownBy(() -> parse(yaml)).isInstanceOf(SiteConfigException.class).hasMessage(message);
    }

    /** A file with one site whose one route is {@code route} (YAML lines at route indentation). */
    private static String route(String route) {
        return "sites:\n  - hosts: [example.com]\n    routes:\n      - path: /\n" + route.indent(8);
    }

    @Test
    void fullConfigBecomesRecordsInFileOrder() throws IOException {
        SiteConfig config = parse("""
                sites:
                  - hosts: [Example.COM, "*.example.com"]
                    routes:
                      - path: /static
                        static: www
                      - path: /
                        upstream:
                          urls: [http://127.0.0.1:8080, http://localhost:8081/]
                          balance: least-requests
                          connect-timeout: 2s
                          response-timeout: 30s
                          idle-timeout: 1m
                      - path: /app
                        app: {jar: app.jar, class: com.example.Site}
                  - default: true
                    routes:
                      - path: /old
                        redirect: {status: 301, location: "https://example.com/new"}
                      - path: /
                        respond: {status: 404, body: "no such site\\n", content-type: text/html; charset=utf-8}
                      - path: /pool
                        upstream: [http://127.0.0.1:9000]
                      - path: /one
                        upstream: http://127.0.0.1:9001
                      - path: /moved
                        redirect: {location: /new}
                      - path: /ok
                        respond: {}
                      - path: /provided
                        app: {jar: app.jar}
                """);
        assertThat(config.sites()).hasSize(2);
        Site first = config.sites().get(0);
        assertThat(first.hosts()).containsExactly("example.com", "*.example.com");
        assertThat(first.isDefault()).isFalse();
        assertThat(first.routes().get(0).path()).isEqualTo("/static");
        assertThat(first.routes().get(0).action()).isEqualTo(new Static(dir.resolve("www")));
        ProxyConfig proxy = ((Upstream) first.routes().get(1).action()).proxy();
        assertThat(proxy.upstreams()).containsExactly(URI.create("http://127.0.0.1:8080"),
                URI.create("http://localhost:8081"));
        assertThat(proxy.balance()).isEqualTo(ProxyConfig.Balance.LEAST_REQUESTS);
        assertThat(proxy.connectTimeout()).isEqualTo(Duration.ofSeconds(2));
        assertThat(proxy.responseTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(proxy.idleTimeout()).isEqualTo(Duration.ofMinutes(1));
        assertThat(first.routes().get(2).action()).isEqualTo(new App(dir.resolve("app.jar"), "com.example.Site"));
        Site fallback = config.defaultSite();
        assertThat(fallback).isSameAs(config.sites().get(1));
        assertThat(fallback.hosts()).isEmpty();
        assertThat(fallback.routes().get(0).action()).isEqualTo(new Redirect(301, "https://example.com/new"));
        assertThat(fallback.routes().get(1).action())
                .isEqualTo(new Respond(404, "no such site\n", "text/html; charset=utf-8"));
        assertThat(((Upstream) fallback.routes().get(2).action()).proxy().upstreams())
                .containsExactly(URI.create("http://127.0.0.1:9000"));
        ProxyConfig defaults = ((Upstream) fallback.routes().get(3).action()).proxy();
        assertThat(defaults.balance()).isEqualTo(ProxyConfig.Balance.ROUND_ROBIN);
        assertThat(defaults.connectTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(fallback.routes().get(4).action()).isEqualTo(new Redirect(302, "/new"));
        assertThat(fallback.routes().get(5).action()).isEqualTo(new Respond(200, "", "text/plain; charset=utf-8"));
        // without a class: the jar's service provider, looked up when the app is loaded
        assertThat(fallback.routes().get(6).action()).isEqualTo(new App(dir.resolve("app.jar"), null));
        assertThatThrownBy(() -> config.sites().add(first)).isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void sitesMustBeANonEmptyListOfMappings() {
        assertError("sites: {}", "sites: an empty mapping (expected: a list of sites, each with hosts (or "
                + "default: true) and routes)");
        assertError("sites: []", "sites: an empty list (expected: a list of sites, each with hosts (or default: "
                + "true) and routes)");
        assertError("sites:", "sites: empty (expected: a list of sites, each with hosts (or default: true) and "
                + "routes)");
        assertError("sites: [example.com]", "sites[0]: \"example.com\" (expected: a site: a mapping with hosts (or "
                + "default: true) and routes)");
    }

    @Test
    void siteKeysAreChecked() {
        assertError("sites:\n  - host: [a.com]\n    routes: []\n", "sites[0]: unknown key \"host\" (expected: one of "
                + "hosts, default, routes)");
        assertError("sites:\n  - routes: [{path: /, respond: {}}]\n", "sites[0]: no hosts (expected: hosts: "
                + "[example.com, \"*.example.com\"], or default: true for every host no other site names)");
        assertError("sites:\n  - {hosts: [a.com], default: true, routes: [{path: /, respond: {}}]}\n",
                "sites[0]: both hosts and default: true (expected: hosts for named hosts, or default: true for every "
                        + "other host)");
        assertError("sites:\n  - {default: yes please, routes: [{path: /, respond: {}}]}\n",
                "sites[0].default: \"yes please\" (expected: true or false)");
        assertError("sites:\n  - {default: true, routes: [{path: /, respond: {}}]}\n"
                        + "  - {default: true, routes: [{path: /, respond: {}}]}\n",
                "sites[1].default: true, but sites[0] is the default site already (expected: one default site)");
        assertError("sites:\n  - {hosts: [a.com]}\n", "sites[0].routes: missing (expected: a list of routes, each "
                + "with a path and one of upstream, static, app, redirect, respond)");
        assertError("sites:\n  - {hosts: [a.com], routes: []}\n", "sites[0].routes: an empty list (expected: a list "
                + "of routes, each with a path and one of upstream, static, app, redirect, respond)");
    }

    @Test
    void hostsAreNamesOrWildcardsEachInOneSite() {
        String expected = " (expected: a host name without port such as example.com, or \"*.example.com\" (quoted) "
                + "for its subdomains)";
        assertError("sites:\n  - {hosts: a.com, routes: [{path: /, respond: {}}]}\n",
                "sites[0].hosts: \"a.com\" (expected: a list of host names such as [example.com, \"*.example.com\"])");
        assertError("sites:\n  - {hosts: [a.com, \"a.com:443\"], routes: [{path: /, respond: {}}]}\n",
                "sites[0].hosts[1]: \"a.com:443\"" + expected);
        assertError("sites:\n  - {hosts: [\"a.*.com\"], routes: [{path: /, respond: {}}]}\n",
                "sites[0].hosts[0]: \"a.*.com\"" + expected);
        assertError("sites:\n  - {hosts: [\"*\"], routes: [{path: /, respond: {}}]}\n",
                "sites[0].hosts[0]: \"*\"" + expected);
        assertError("sites:\n  - {hosts: [443], routes: [{path: /, respond: {}}]}\n",
                "sites[0].hosts[0]: 443" + expected);
        assertError("sites:\n  - {hosts: [a.com], routes: [{path: /, respond: {}}]}\n"
                        + "  - {hosts: [b.com, A.com], routes: [{path: /, respond: {}}]}\n",
                "sites[1].hosts[1]: a.com, named already by sites[0].hosts[0] (expected: each host in one site only)");
    }

    @Test
    void routesHaveAPathAndExactlyOneAction() {
        String actions = "upstream, static, app, redirect, respond";
        assertError("sites:\n  - {hosts: [a.com], routes: [/]}\n", "sites[0].routes[0]: \"/\" (expected: a route: "
                + "a mapping with a path and one of " + actions + ")");
        assertError("sites:\n  - {hosts: [a.com], routes: [{respond: {}}]}\n", "sites[0].routes[0].path: missing "
                + "(expected: a path prefix starting with /, without ? or #, such as /api)");
        assertError("sites:\n  - {hosts: [a.com], routes: [{path: api, respond: {}}]}\n", "sites[0].routes[0].path: "
                + "\"api\" (expected: a path prefix starting with /, without ? or #, such as /api)");
        assertError("sites:\n  - {hosts: [a.com], routes: [{path: \"/a?b\", respond: {}}]}\n",
                "sites[0].routes[0].path: \"/a?b\" (expected: a path prefix starting with /, without ? or #, such as "
                        + "/api)");
        assertError("sites:\n  - {hosts: [a.com], routes: [{path: /}]}\n", "sites[0].routes[0]: no action "
                + "(expected: exactly one of " + actions + ")");
        assertError("sites:\n  - {hosts: [a.com], routes: [{path: /, static: www, respond: {}}]}\n",
                "sites[0].routes[0]: both static and respond (expected: exactly one of " + actions + ")");
        assertError("sites:\n  - {hosts: [a.com], routes: [{path: /, upstrem: http://127.0.0.1:1}]}\n",
                "sites[0].routes[0]: unknown key \"upstrem\" (expected: one of path, " + actions + ")");
        assertError("sites:\n  - {hosts: [a.com], routes: [{path: /a, respond: {}}, {path: /a, static: www}]}\n",
                "sites[0].routes[1].path: /a, routed already by sites[0].routes[0] (expected: each path once per "
                        + "site)");
    }

    @Test
    void upstreamReusesTheProxyValidation() {
        String p = "sites[0].routes[0].upstream";
        String optional = "balance, connect-timeout, response-timeout, idle-timeout, max-fails, max-5xx, "
                + "health-path, health-interval, keepalive-timeout, max-idle, ca, server-name, client-cert, client-key";
        assertError(route("upstream:"), p + ": empty (expected: http://HOST:PORT, a list of them, or a mapping with "
                + "urls and optionally " + optional + ")");
        assertError(route("upstream: []"), p + ": an empty list (expected: http://HOST:PORT, a list of them, or a "
                + "mapping with urls and optionally " + optional + ")");
        assertError(route("upstream: {balance: round-robin}"), p + ".urls: missing (expected: http://HOST:PORT or a "
                + "list of them)");
        assertError(route("upstream: {urls: [http://127.0.0.1:1], weight: 3}"), p + ": unknown key \"weight\" "
                + "(expected: one of urls, " + optional + ")");
        assertError(route("upstream: [http://127.0.0.1:1, ws://127.0.0.1:2]"), p + "[1]: ws://127.0.0.1:2 "
                + "(scheme ws is not supported; expected: http://HOST:PORT, h2c://HOST:PORT or https://HOST:PORT such "
                + "as http://127.0.0.1:8080)");
        assertError(route("upstream: {urls: [http://127.0.0.1:1, 127.0.0.1:2]}"), p + ".urls[1]: 127.0.0.1:2 "
                + "(not a URL; expected: http://HOST:PORT, h2c://HOST:PORT or https://HOST:PORT such as "
                + "http://127.0.0.1:8080)");
        assertError(route("upstream: http://127.0.0.1"), p + ": http://127.0.0.1 (no port; expected: "
                + "http://HOST:PORT, h2c://HOST:PORT or https://HOST:PORT such as http://127.0.0.1:8080)");
        assertError(route("upstream: [http://127.0.0.1:1, {url: x}]"), p + "[1]: a mapping (expected: "
                + "http://HOST:PORT such as http://127.0.0.1:8080)");
        assertError(route("upstream: [http://127.0.0.1:1, http://127.0.0.1:1/]"), p + "[1]: http://127.0.0.1:1/, "
                + "listed already as " + p + "[0] (expected: each upstream once)");
        assertError(route("upstream: {urls: http://127.0.0.1:1, balance: fastest}"), p + ".balance: fastest "
                + "(expected: round-robin or least-requests)");
        assertError(route("upstream: {urls: http://127.0.0.1:1, connect-timeout: soon}"), p + ".connect-timeout: "
                + "soon (expected: a duration such as 500ms, 30s, 5m, 1h or PT30S)");
        assertError(route("upstream: {urls: http://127.0.0.1:1, response-timeout: 1ms}"), p + ".response-timeout: "
                + "1ms (expected: 10ms..24h)");
        assertError(route("upstream: {urls: http://127.0.0.1:1, idle-timeout: [1s]}"), p + ".idle-timeout: a list "
                + "(expected: a duration such as 500ms, 30s, 5m, 1h or PT30S)");
    }

    @Test
    void aPoolStartsFromTheWorkersProxyOptionsAndItsKeysOverrideThem() throws Exception {
        TlsMaterial tls = TlsMaterial.developmentCertificate(dir.resolve("tls"), Clock.systemUTC());
        JsonNode root = new ObjectMapper(new YAMLFactory()).readTree("""
                sites:
                  - default: true
                    routes:
                      - path: /
                        upstream: http://127.0.0.1:8080
                      - path: /api
                        upstream:
                          urls: [https://127.0.0.1:8443]
                          max-fails: 5
                          max-5xx: 2
                          health-path: /healthz
                          health-interval: 250ms
                          keepalive-timeout: 20s
                          max-idle: 0
                          ca: %s
                          server-name: api.internal
                      - path: /quiet
                        upstream: {urls: [http://127.0.0.1:8081], health-path: "", max-5xx: "0"}
                """.formatted(dir.relativize(tls.certFile())));
        // the worker's options, as WorkerMain makes them from --trusted-proxies, --upstream-max-idle and so on
        SiteConfig config = SiteConfigParser.parse(root.get("sites"), dir, () -> ProxyConfig.builder()
                .trustedProxies(TrustedNetworks.parse("trusted-proxies", "10.0.0.0/8"))
                .forwardingHeaders(true, true)
                .keepAlive(Duration.ofSeconds(30), 64)
                .max5xx(3)
                .healthCheck("/ping", Duration.ofSeconds(2)));
        List<ProxyConfig> pools = config.defaultSite().routes().stream()
                .map(route -> ((Upstream) route.action()).proxy()).toList();
        for (ProxyConfig pool : pools) {
            assertThat(pool.trustedProxies()).isEqualTo(TrustedNetworks.parse("trusted-proxies", "10.0.0.0/8"));
            assertThat(pool.forwarded()).isTrue();
            assertThat(pool.via()).isTrue();
        }
        ProxyConfig plain = pools.get(0);
        assertThat(plain.keepAliveTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(plain.maxIdlePerUpstream()).isEqualTo(64);
        assertThat(plain.max5xx()).isEqualTo(3);
        assertThat(plain.healthPath()).isEqualTo("/ping");
        assertThat(plain.healthInterval()).isEqualTo(Duration.ofSeconds(2));
        assertThat(plain.maxFails()).isEqualTo(3);
        assertThat(plain.upstreamCa()).isNull();
        ProxyConfig api = pools.get(1);
        assertThat(api.upstreams()).containsExactly(URI.create("https://127.0.0.1:8443"));
        assertThat(api.maxFails()).isEqualTo(5);
        assertThat(api.max5xx()).isEqualTo(2);
        assertThat(api.healthPath()).isEqualTo("/healthz");
        assertThat(api.healthInterval()).isEqualTo(Duration.ofMillis(250));
        assertThat(api.keepAliveTimeout()).isEqualTo(Duration.ofSeconds(20));
        assertThat(api.maxIdlePerUpstream()).isZero();
        assertThat(api.upstreamCa()).isEqualTo(tls.certFile());
        assertThat(api.upstreamServerName()).isEqualTo("api.internal");
        ProxyConfig quiet = pools.get(2);
        assertThat(quiet.healthPath()).isNull(); // an empty health-path turns the worker's health check off
        assertThat(quiet.healthInterval()).isEqualTo(Duration.ofSeconds(2));
        assertThat(quiet.max5xx()).isZero();
        assertThat(quiet.maxIdlePerUpstream()).isEqualTo(64);
    }

    @Test
    void poolKeysAreCheckedAsTheirFlagsAreAndNamedByTheirKeyPath() {
        String p = "sites[0].routes[0].upstream";
        String u = "upstream: {urls: http://127.0.0.1:1, ";
        assertError(route(u + "max-fails: 0}"), p + ".max-fails: 0 (expected: 1..1000)");
        assertError(route(u + "max-fails: many}"), p + ".max-fails: \"many\" (expected: a whole number 1..1000)");
        assertError(route(u + "max-5xx: 1001}"), p + ".max-5xx: 1001 (expected: 0..1000, 0 for off)");
        assertError(route(u + "max-5xx: [1]}"), p + ".max-5xx: a list (expected: a whole number 0..1000, 0 for "
                + "off)");
        assertError(route(u + "health-path: healthz}"), p + ".health-path: healthz (expected: a path such as "
                + "/healthz, starting with /, without spaces)");
        assertError(route(u + "health-interval: 10ms}"), p + ".health-interval: 10ms (expected: 100ms..1h)");
        assertError(route(u + "health-interval: often}"), p + ".health-interval: often (expected: a duration such "
                + "as 500ms, 30s, 5m, 1h or PT30S)");
        assertError(route(u + "keepalive-timeout: 2h}"), p + ".keepalive-timeout: 2h (expected: 1s..1h)");
        assertError(route(u + "max-idle: 10001}"), p + ".max-idle: 10001 (expected: 0..10000)");
        assertError(route(u + "max-idle: 1.5}"), p + ".max-idle: 1.5 (expected: a whole number 0..10000)");
        assertError(route(u + "ca: missing.pem}"), p + ".ca: " + dir.resolve("missing.pem") + " (no such file; "
                + "expected: a PEM file with the CA certificates that signed the upstreams' certificates)");
        assertError(route(u + "ca: {file: x}}"), p + ".ca: a mapping (expected: a PEM file with the CA "
                + "certificates that signed the upstreams' certificates)");
        assertError(route(u + "server-name: \"api:443\"}"), p + ".server-name: api:443 (expected: a host name "
                + "such as api.internal)");
    }

    /** A self-signed client certificate {@code CN=cn} and its PKCS#8 key, as {@code NAME.pem}, {@code NAME-key.pem}. */
    private Path[] clientCertificate(String name, String cn) {
        KeyPair keys = TestCertificates.ecP256();
        Path cert = TestCertificates.writeCertificates(dir.resolve(name + ".pem"), TestCertificates.selfSigned(keys,
                cn, Instant.now().minusSeconds(60), Instant.now().plusSeconds(3600)));
        return new Path[] {cert, TestCertificates.writePkcs8(dir.resolve(name + "-key.pem"), keys.getPrivate())};
    }

    @Test
    void aPoolsClientCertificateIsBesideTheFileAndReplacesTheWorkersPair() throws Exception {
        Path[] flags = clientCertificate("flags", "from the flags");
        Files.createDirectories(dir.resolve("tls"));
        Path[] pool = clientCertificate("tls/billing", "billing proxy");
        JsonNode root = new ObjectMapper(new YAMLFactory()).readTree("""
                sites:
                  - default: true
                    routes:
                      - path: /
                        upstream: https://127.0.0.1:8443
                      - path: /billing
                        upstream:
                          urls: https://127.0.0.1:9443
                          client-cert: tls/billing.pem
                          client-key: tls/billing-key.pem
                """);
        SiteConfig config = SiteConfigParser.parse(root.get("sites"), dir, () -> ProxyConfig.builder()
                .upstreamClientCertificate(flags[0], flags[1]));
        List<ProxyConfig> pools = config.defaultSite().routes().stream()
                .map(route -> ((Upstream) route.action()).proxy()).toList();
        assertThat(pools.get(0).upstreamClientCert()).isEqualTo(flags[0]);
        assertThat(pools.get(0).upstreamClientKey()).isEqualTo(flags[1]);
        assertThat(pools.get(1).upstreamClientCert()).isEqualTo(pool[0]);
        assertThat(pools.get(1).upstreamClientKey()).isEqualTo(pool[1]);
    }

    @Test
    void clientCertificateKeysComeTogetherAndTheirFilesAreChecked() {
        Path[] good = clientCertificate("client", "proxy");
        Path[] other = clientCertificate("other", "other");
        String p = "sites[0].routes[0].upstream";
        String u = "upstream: {urls: https://127.0.0.1:1, ";
        assertError(route(u + "client-cert: client.pem}"), p + ".client-key: missing (client-cert is " + good[0]
                + "; expected: both client-cert and client-key, or neither)");
        assertError(route(u + "client-key: client-key.pem}"), p + ".client-cert: missing (client-key is " + good[1]
                + "; expected: both client-cert and client-key, or neither)");
        assertError(route(u + "client-cert: missing.pem, client-key: client-key.pem}"), p + ".client-cert: "
                + dir.resolve("missing.pem") + " (no such file; expected: a PEM file with the client certificate, "
                + "then its intermediates)");
        assertError(route(u + "client-cert: client.pem, client-key: www}"), p + ".client-key: " + dir.resolve("www")
                + " (a directory; expected: a PEM file with the client certificate's private key, unencrypted "
                + "PKCS#8 (-----BEGIN PRIVATE KEY-----), EC or RSA)");
        assertError(route(u + "client-cert: client.pem, client-key: other-key.pem}"), p + ".client-key: "
                + other[1] + " (does not belong to the certificate CN=proxy in " + good[0] + "; expected: the "
                + "private key the client certificate was issued for)");
        assertError(route(u + "client-cert: [client.pem], client-key: client-key.pem}"), p + ".client-cert: a list "
                + "(expected: a PEM file with the client certificate, then its intermediates)");
    }

    @Test
    void aBadValueFromTheWorkersFlagsKeepsTheFlagsName() throws IOException {
        // the pool has no ca key: the bad file is --upstream-ca's, and the message says so, at the pool that used it
        Path missing = dir.resolve("no-ca.pem");
        JsonNode root = new ObjectMapper(new YAMLFactory()).readTree(route("upstream: https://127.0.0.1:1"));
        assertThatThrownBy(() -> SiteConfigParser.parse(root.get("sites"), dir, () -> ProxyConfig.builder()
                .upstreamCa(missing))).isInstanceOf(SiteConfigException.class)
                .hasMessage("sites[0].routes[0].upstream: upstream-ca: " + missing + " (no such file; expected: a "
                        + "PEM file with the CA certificates that signed the upstreams' certificates)");
    }

    @Test
    void staticIsAnExistingDirectory() {
        String p = "sites[0].routes[0].static";
        assertError(route("static: nope"), p + ": " + dir.resolve("nope") + " (expected: an existing directory, "
                + "such as /srv/www)");
        assertError(route("static: app.jar"), p + ": " + dir.resolve("app.jar") + " (expected: an existing "
                + "directory, such as /srv/www)");
        assertError(route("static: {dir: www}"), p + ": a mapping (expected: an existing directory, such as "
                + "/srv/www)");
    }

    @Test
    void appNamesAnExistingJarAndAClassName() {
        String p = "sites[0].routes[0].app";
        assertError(route("app: app.jar"), p + ": \"app.jar\" (expected: a mapping {jar: app.jar, class: "
                + "com.example.Site})");
        assertError(route("app: {class: com.example.Site}"), p + ".jar: missing (expected: an existing jar file "
                + "with the handler's classes)");
        assertError(route("app: {jar: gone.jar, class: com.example.Site}"), p + ".jar: " + dir.resolve("gone.jar")
                + " does not exist (expected: an existing jar file with the handler's classes)");
        assertError(route("app: {jar: app.jar, class: com/example/Site.class}"), p + ".class: "
                + "\"com/example/Site.class\" (expected: the binary name of a class implementing "
                + "dev.quicfleet.http.Handler or dev.quicfleet.http.Service, such as com.example.Site)");
        assertError(route("app: {jar: app.jar, class: com.example.Site, args: [1]}"), p + ": unknown key \"args\" "
                + "(expected: one of jar, class)");
    }

    @Test
    void redirectAndRespondCheckStatusAndText() {
        String r = "sites[0].routes[0].redirect";
        assertError(route("redirect: https://example.com/"), r + ": \"https://example.com/\" (expected: a mapping "
                + "{status: 301, location: https://example.com/})");
        assertError(route("redirect: {status: 200, location: /x}"), r + ".status: 200 (expected: 301, 302, 303, 307 "
                + "or 308)");
        assertError(route("redirect: {status: \"301\", location: /x}"), r + ".status: \"301\" (expected: 301, 302, "
                + "303, 307 or 308)");
        assertError(route("redirect: {status: 301}"), r + ".location: missing (expected: a URL or an absolute path, "
                + "such as https://example.com/ or /new)");
        assertError(route("redirect: {location: \"\"}"), r + ".location: \"\" (expected: a URL or an absolute path, "
                + "such as https://example.com/ or /new)");
        assertError(route("redirect: {location: /x, code: 301}"), r + ": unknown key \"code\" (expected: one of "
                + "status, location)");
        String s = "sites[0].routes[0].respond";
        assertError(route("respond: hello"), s + ": \"hello\" (expected: a mapping {status: 200, body: \"text\", "
                + "content-type: text/plain})");
        assertError(route("respond: {status: 99}"), s + ".status: 99 (expected: a status code 200..599)");
        assertError(route("respond: {status: 600}"), s + ".status: 600 (expected: a status code 200..599)");
        assertError(route("respond: {status: 2.5}"), s + ".status: 2.5 (expected: a status code 200..599)");
        assertError(route("respond: {body: [a, b]}"), s + ".body: a list (expected: text)");
        assertError(route("respond: {content-type: html}"), s + ".content-type: \"html\" (expected: a media type "
                + "such as text/html; charset=utf-8)");
        assertError(route("respond: {status: 200, headers: {}}"), s + ": unknown key \"headers\" (expected: one of "
                + "status, body, content-type)");
    }

    @Test
    void controlCharactersInValuesAreEscapedSoTheMessageStaysOneLine() {
        // found by SiteConfigFuzzTest: a value with a line break made the message two lines
        assertError("sites: \"a\\nb\"", "sites: \"a\\nb\" (expected: a list of sites, each with hosts (or default: "
                + "true) and routes)");
        assertError(route("redirect: {location: \"/a\\tb\\u0007\"}"), "sites[0].routes[0].redirect.location: "
                + "\"/a\\tb\\u0007\" (expected: a URL or an absolute path, such as https://example.com/ or /new)");
    }

    @Test
    void fileOrderDoesNotMatterForPrefixesButIsKept() throws IOException {
        SiteConfig config = parse("sites:\n  - {default: true, routes: [{path: /, respond: {}}, "
                + "{path: /a/b, respond: {status: 201}}, {path: /a, respond: {status: 202}}]}\n");
        assertThat(config.sites().getFirst().routes()).extracting(SiteConfig.Route::path)
                .isEqualTo(List.of("/", "/a/b", "/a"));
    }
}
