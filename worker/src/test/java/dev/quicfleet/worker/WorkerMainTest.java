package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quicfleet.proxy.ProxyConfig;
import java.io.PrintWriter;
import java.net.URI;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** Flags and the YAML config file: same keys, flags win, every bad value named with what is expected. */
class WorkerMainTest {

    @TempDir
    Path tmp;

    private static WorkerConfig parse(String... args) {
        return WorkerMain.parse(args, new PrintWriter(new StringWriter()));
    }

    @Test
    void defaultsAreTheDocumentedOnes() {
        WorkerConfig config = parse();
        assertThat(config.port()).isEqualTo(4433);
        assertThat(config.address().getHostAddress()).isEqualTo("0.0.0.0");
        assertThat(config.transport()).isEqualTo("auto");
        assertThat(config.drainTimeout()).isEqualTo(Duration.ofSeconds(10));
        assertThat(config.idleTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(config.quic().idleTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(config.quic().maxStreams()).isEqualTo(256);
        assertThat(config.quic().maxData()).isEqualTo(16L << 20);
        assertThat(config.cert()).isNull();
        assertThat(config.reusePort()).isFalse();
        assertThat(config.udpFd()).isEqualTo(-1);
    }

    @Test
    void flagsSetEveryOption() {
        WorkerConfig config = parse("--address", "127.0.0.1", "--port", "8443", "--transport", "epoll",
                "--drain-timeout", "2m", "--idle-timeout", "45s", "--body-timeout", "PT90S", "--quic-max-streams",
                "100", "--quic-max-data", "32MiB", "--quic-max-stream-data", "2m", "--quic-max-udp-payload", "1350",
                "--quic-pmtu-discovery", "off", "--quic-gso-segments", "8", "--udp-socket-buffer", "8MiB", "--slot", "3",
                "--reuse-port",
                "--io-threads", "2", "--static-dir", tmp.toString(), "--static-prefix", "/files");
        assertThat(config.address().getHostAddress()).isEqualTo("127.0.0.1");
        assertThat(config.port()).isEqualTo(8443);
        assertThat(config.transport()).isEqualTo("epoll");
        assertThat(config.drainTimeout()).isEqualTo(Duration.ofMinutes(2));
        assertThat(config.idleTimeout()).isEqualTo(Duration.ofSeconds(45));
        assertThat(config.quic().idleTimeout()).isEqualTo(Duration.ofSeconds(45));
        assertThat(config.bodyTimeout()).isEqualTo(Duration.ofSeconds(90));
        assertThat(config.quic().maxStreams()).isEqualTo(100);
        assertThat(config.quic().maxData()).isEqualTo(32L << 20);
        assertThat(config.quic().maxStreamData()).isEqualTo(2L << 20);
        assertThat(config.quic().maxUdpPayload()).isEqualTo(1350);
        assertThat(config.quic().pmtuDiscovery()).isFalse();
        assertThat(config.quic().gsoSegments()).isEqualTo(8);
        assertThat(config.quic().udpSocketBuffer()).isEqualTo(8 << 20);
        assertThat(config.slot()).isEqualTo(3);
        assertThat(config.reusePort()).isTrue();
        assertThat(config.ioThreads()).isEqualTo(2);
        assertThat(config.staticDir()).isEqualTo(tmp);
        assertThat(config.staticPrefix()).isEqualTo("/files");
    }

    @Test
    void yamlFileUsesTheFlagNamesAndFlagsWin() throws Exception {
        Path file = Files.writeString(tmp.resolve("worker.yaml"), """
                # the same keys as the flags, without the dashes
                port: 9443
                address: 127.0.0.1
                drain-timeout: 30s
                quic-max-streams: 64
                reuse-port: true
                """);
        WorkerConfig fromFile = parse("--config", file.toString());
        assertThat(fromFile.port()).isEqualTo(9443);
        assertThat(fromFile.address().getHostAddress()).isEqualTo("127.0.0.1");
        assertThat(fromFile.drainTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(fromFile.quic().maxStreams()).isEqualTo(64);
        assertThat(fromFile.reusePort()).isTrue();

        WorkerConfig overridden = parse("--config", file.toString(), "--port", "7443");
        assertThat(overridden.port()).isEqualTo(7443);
        assertThat(overridden.drainTimeout()).isEqualTo(Duration.ofSeconds(30));
    }

    @Test
    void unknownYamlKeyIsNamedWithTheValidOnes() throws Exception {
        Path file = Files.writeString(tmp.resolve("typo.yaml"), "prot: 9443\n");
        assertThatThrownBy(() -> parse("--config", file.toString()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("config: unknown key \"prot\" in " + file)
                .hasMessageContaining("port");
    }

    @Test
    void pathMtuDiscoveryIsOnByDefaultAndTakesOnOrOff() {
        assertThat(parse("--port", "8443").quic().pmtuDiscovery()).isTrue();
        assertThat(parse("--port", "8443").quic().maxUdpPayload()).isEqualTo(1452);
        assertThatThrownBy(() -> parse("--port", "8443", "--quic-pmtu-discovery", "maybe"))
                .hasMessage("quic-pmtu-discovery: maybe (expected: on or off)");
    }

    @Test
    void invalidYamlValueNamesTheKeyAndTheExpectation() throws Exception {
        Path file = Files.writeString(tmp.resolve("bad.yaml"), "quic-max-udp-payload: 500\n");
        assertThatThrownBy(() -> parse("--config", file.toString()))
                .hasMessage("quic-max-udp-payload: 500 (expected: 1200..65527)");
        Path nested = Files.writeString(tmp.resolve("nested.yaml"), "port:\n  - 1\n  - 2\n");
        assertThatThrownBy(() -> parse("--config", nested.toString()))
                .hasMessageContaining("port").hasMessageContaining("expected: a single value");
    }

    @Test
    void missingConfigFileIsNamed() {
        Path missing = tmp.resolve("missing.yaml");
        assertThatThrownBy(() -> parse("--config", missing.toString()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("config: cannot read " + missing);
    }

    @Test
    void valuesOutOfRangeNameKeyValueAndRange() {
        assertThatThrownBy(() -> parse("--port", "70000"))
                .hasMessage("port: 70000 (expected: 1..65535, or 0 for a free port)");
        assertThatThrownBy(() -> parse("--drain-timeout", "2h"))
                .hasMessage("drain-timeout: 2h (expected: 0s..1h)");
        assertThatThrownBy(() -> parse("--idle-timeout", "0s"))
                .hasMessage("idle-timeout: 0s (expected: 1s..10m)");
        assertThatThrownBy(() -> parse("--quic-max-data", "lots"))
                .hasMessage("quic-max-data: lots (expected: a byte size such as 65536, 64k, 16MiB or 1g)");
        assertThatThrownBy(() -> parse("--address", "not-an-ip.invalid"))
                .hasMessage("address: not-an-ip.invalid (expected: an IP address of this machine)");
        assertThatThrownBy(() -> parse("--static-dir", tmp.resolve("nope").toString()))
                .hasMessage("static-dir: " + tmp.resolve("nope") + " (expected: an existing directory)");
    }

    @Test
    void certWithoutKeyIsRefused() {
        assertThatThrownBy(() -> parse("--cert", "/x/cert.pem"))
                .hasMessageStartingWith("key: missing while cert is set to /x/cert.pem");
    }

    @Test
    void malformedFlagIsAPicocliError() {
        assertThatThrownBy(() -> parse("--port", "http"))
                .isInstanceOf(CommandLine.ParameterException.class)
                .hasMessageContaining("'--port'");
    }

    @Test
    void runReturnsTwoForBadInputAndZeroForHelp() {
        StringWriter err = new StringWriter();
        StringWriter out = new StringWriter();
        assertThat(WorkerMain.run(new String[] {"--port", "-5"}, new PrintWriter(out), new PrintWriter(err)))
                .isEqualTo(2);
        assertThat(err.toString()).startsWith("error: port: -5 (expected: 1..65535, or 0 for a free port)");
        assertThat(WorkerMain.run(new String[] {"--help"}, new PrintWriter(out), new PrintWriter(err))).isZero();
        assertThat(out.toString()).contains("--drain-timeout").contains("--config");
    }

    @Test
    void upstreamFlagsMountTheProxyAndRepeatOrSplitIntoAPool() throws Exception {
        assertThat(parse().proxy()).as("no --upstream: the demo site").isNull();
        WorkerConfig config = parse("--upstream", "http://127.0.0.1:8080", "--upstream",
                "http://localhost:8081/,http://[::1]:8082", "--upstream-balance", "least-requests",
                "--upstream-connect-timeout", "2s", "--upstream-response-timeout", "30s",
                "--upstream-idle-timeout", "90s");
        ProxyConfig proxy = config.proxy();
        assertThat(proxy.upstreams()).containsExactly(URI.create("http://127.0.0.1:8080"),
                URI.create("http://localhost:8081"), URI.create("http://[::1]:8082"));
        assertThat(proxy.balance()).isEqualTo(ProxyConfig.Balance.LEAST_REQUESTS);
        assertThat(proxy.connectTimeout()).isEqualTo(Duration.ofSeconds(2));
        assertThat(proxy.responseTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(proxy.idleTimeout()).isEqualTo(Duration.ofSeconds(90));
        assertThat(parse("--upstream", "http://127.0.0.1:8080").proxy().connectTimeout())
                .as("the default connect timeout").isEqualTo(Duration.ofSeconds(5));

        Path file = tmp.resolve("proxy.yaml");
        Files.writeString(file, "upstream:\n  - http://127.0.0.1:9001\n  - http://127.0.0.1:9002\n");
        assertThat(parse("--config", file.toString()).proxy().upstreams()).containsExactly(
                URI.create("http://127.0.0.1:9001"), URI.create("http://127.0.0.1:9002"));
    }

    @Test
    void forwardingTrustHealthAndProxyProtocolFlags() throws Exception {
        ProxyConfig plain = parse("--upstream", "http://127.0.0.1:8080").proxy();
        assertThat(plain.trustedProxies().isEmpty()).as("nobody trusted by default").isTrue();
        assertThat(plain.forwarded()).isFalse();
        assertThat(plain.via()).isFalse();
        assertThat(plain.max5xx()).isZero();
        assertThat(plain.healthPath()).isNull();
        WorkerConfig config = parse("--upstream", "http://127.0.0.1:8080", "--trusted-proxies", "10.0.0.0/8,::1",
                "--forwarded-header", "on", "--via", "on", "--upstream-max-5xx", "5", "--upstream-health-path",
                "/healthz", "--upstream-health-interval", "2s", "--proxy-protocol-from", "192.0.2.0/24");
        ProxyConfig proxy = config.proxy();
        assertThat(proxy.trustedProxies()).hasToString("10.0.0.0/8,0:0:0:0:0:0:0:1/128");
        assertThat(proxy.forwarded()).isTrue();
        assertThat(proxy.via()).isTrue();
        assertThat(proxy.max5xx()).isEqualTo(5);
        assertThat(proxy.healthPath()).isEqualTo("/healthz");
        assertThat(proxy.healthInterval()).isEqualTo(Duration.ofSeconds(2));
        assertThat(config.proxyProtocolFrom()).hasToString("192.0.2.0/24");

        assertThatThrownBy(() -> parse("--trusted-proxies", "10.0.0.0/40"))
                .hasMessageStartingWith("trusted-proxies: 10.0.0.0/40 (the prefix length must be 0..32;");
        assertThatThrownBy(() -> parse("--proxy-protocol-from", "balancer.example"))
                .hasMessageStartingWith("proxy-protocol-from: balancer.example (not an IP address;");
        assertThatThrownBy(() -> parse("--via", "maybe")).hasMessage("via: maybe (expected: on or off)");
        assertThatThrownBy(() -> parse("--upstream-max-5xx", "-1"))
                .hasMessage("upstream-max-5xx: -1 (expected: 0..1000, 0 for off)");
        assertThatThrownBy(() -> parse("--upstream-health-path", "healthz"))
                .hasMessageStartingWith("upstream-health-path: healthz (expected: a path such as /healthz");
    }

    @Test
    void upstreamKeepAliveFlags() throws Exception {
        ProxyConfig plain = parse("--upstream", "http://127.0.0.1:8080").proxy();
        assertThat(plain.keepAliveTimeout()).isEqualTo(Duration.ofSeconds(60));
        assertThat(plain.maxIdlePerUpstream()).isEqualTo(32);
        ProxyConfig tuned = parse("--upstream", "http://127.0.0.1:8080", "--upstream-keepalive-timeout", "30s",
                "--upstream-max-idle", "256").proxy();
        assertThat(tuned.keepAliveTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(tuned.maxIdlePerUpstream()).isEqualTo(256);
        assertThatThrownBy(() -> parse("--upstream", "http://127.0.0.1:8080", "--upstream-max-idle", "-1"))
                .hasMessage("upstream-max-idle: -1 (expected: 0..10000)");
        assertThatThrownBy(() -> parse("--upstream", "http://127.0.0.1:8080", "--upstream-keepalive-timeout", "0s"))
                .hasMessageStartingWith("upstream-keepalive-timeout: 0s (expected: 1s..1h)");
    }

    @Test
    void badUpstreamValuesGiveOneErrorNamingTheOptionAndExitTwo() {
        for (String bad : new String[] {"ftp://127.0.0.1:21", "127.0.0.1:8080", "http://127.0.0.1",
                "http://127.0.0.1:8080/app", "ws://127.0.0.1:8443", "http://no-such-host.invalid:80"}) {
            StringWriter err = new StringWriter();
            assertThat(WorkerMain.run(new String[] {"--upstream", bad}, new PrintWriter(new StringWriter()),
                    new PrintWriter(err))).as(bad).isEqualTo(2);
            assertThat(err.toString()).as(bad).startsWith("error: upstream: " + bad + " (")
                    .contains("expected: ").hasLineCount(2);
        }
        StringWriter caErr = new StringWriter();
        Path noCa = tmp.resolve("no-ca.pem");
        assertThat(WorkerMain.run(new String[] {"--upstream", "https://127.0.0.1:8443", "--upstream-ca",
                noCa.toString()}, new PrintWriter(new StringWriter()), new PrintWriter(caErr))).isEqualTo(2);
        assertThat(caErr.toString()).startsWith("error: upstream-ca: " + noCa + " (no such file; expected: ")
                .hasLineCount(2);
        assertThatThrownBy(() -> parse("--upstream", "http://127.0.0.1:8080", "--upstream-balance", "random"))
                .hasMessage("upstream-balance: random (expected: round-robin or least-requests)");
        assertThatThrownBy(() -> parse("--upstream", "http://127.0.0.1:8080", "--upstream-connect-timeout", "0s"))
                .hasMessage("upstream-connect-timeout: 0s (expected: 10ms..10m)");
        assertThatThrownBy(() -> parse("--upstream", "http://127.0.0.1:8080", "--upstream",
                "http://127.0.0.1:8080/")).hasMessageContaining("lists an upstream twice");
        assertThatThrownBy(() -> parse("--upstream-idle-timeout", "soon"))
                .as("checked without --upstream too").hasMessageStartingWith("upstream-idle-timeout: soon");
        assertThatThrownBy(() -> parse("--upstream", "http://127.0.0.1:8080", "--static-dir", tmp.toString(),
                "--static-prefix", "/")).hasMessageStartingWith("static-prefix: / with --upstream");
    }

    @Test
    void upstreamClientCertificateFlagsGoTogetherAndNameTheirFile() {
        KeyPair keys = TestCertificates.ecP256();
        Path cert = TestCertificates.writeCertificates(tmp.resolve("client.pem"), TestCertificates.selfSigned(keys,
                "proxy", Instant.now().minusSeconds(60), Instant.now().plusSeconds(3600)));
        Path key = TestCertificates.writePkcs8(tmp.resolve("client-key.pem"), keys.getPrivate());
        ProxyConfig proxy = parse("--upstream", "https://127.0.0.1:8443", "--upstream-client-cert", cert.toString(),
                "--upstream-client-key", key.toString()).proxy();
        assertThat(proxy.upstreamClientCert()).isEqualTo(cert);
        assertThat(proxy.upstreamClientKey()).isEqualTo(key);
        assertThat(parse("--upstream", "https://127.0.0.1:8443").proxy().upstreamClientCert()).isNull();

        // one without the other: caught with the flags, also when only a site file's pools would use them
        StringWriter halfErr = new StringWriter();
        assertThat(WorkerMain.run(new String[] {"--upstream-client-cert", cert.toString()},
                new PrintWriter(new StringWriter()), new PrintWriter(halfErr))).isEqualTo(2);
        assertThat(halfErr.toString()).startsWith("error: upstream-client-key: missing (upstream-client-cert is "
                + cert + "; expected: both upstream-client-cert and upstream-client-key, or neither)")
                .hasLineCount(2);
        assertThatThrownBy(() -> parse("--upstream-client-key", key.toString()))
                .hasMessage("upstream-client-cert: missing (upstream-client-key is " + key + "; expected: both "
                        + "upstream-client-cert and upstream-client-key, or neither)");

        Path noKey = tmp.resolve("no-key.pem");
        StringWriter fileErr = new StringWriter();
        assertThat(WorkerMain.run(new String[] {"--upstream", "https://127.0.0.1:8443", "--upstream-client-cert",
                cert.toString(), "--upstream-client-key", noKey.toString()}, new PrintWriter(new StringWriter()),
                new PrintWriter(fileErr))).isEqualTo(2);
        assertThat(fileErr.toString()).startsWith("error: upstream-client-key: " + noKey + " (no such file; "
                + "expected: a PEM file with the client certificate's private key, unencrypted PKCS#8 "
                + "(-----BEGIN PRIVATE KEY-----), EC or RSA)").hasLineCount(2);
        Path otherKey = TestCertificates.writePkcs8(tmp.resolve("other-key.pem"),
                TestCertificates.ecP256().getPrivate());
        assertThatThrownBy(() -> parse("--upstream", "https://127.0.0.1:8443", "--upstream-client-cert",
                cert.toString(), "--upstream-client-key", otherKey.toString()))
                .hasMessage("upstream-client-key: " + otherKey + " (does not belong to the certificate CN=proxy in "
                        + cert + "; expected: the private key the client certificate was issued for)");
    }

    @Test
    void helpListsTheUpstreamOptions() {
        StringWriter out = new StringWriter();
        assertThat(WorkerMain.run(new String[] {"--help"}, new PrintWriter(out), new PrintWriter(new StringWriter())))
                .isZero();
        assertThat(out.toString()).contains("--upstream=URL", "--upstream-balance", "--upstream-connect-timeout",
                "--upstream-response-timeout", "--upstream-idle-timeout", "--upstream-client-cert=FILE",
                "--upstream-client-key=FILE");
    }

    @Test
    void webSocketIsOnByDefaultAndOffTurnsItOff() {
        assertThat(parse().webSocket()).isTrue();
        assertThat(parse("--websocket", "off").webSocket()).isFalse();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        assertThat(WorkerMain.run(new String[] {"--websocket", "maybe"}, new PrintWriter(out), new PrintWriter(err)))
                .isEqualTo(2);
        assertThat(err.toString()).startsWith("error: websocket: maybe (expected: on or off)").hasLineCount(2);
        StringWriter help = new StringWriter();
        assertThat(WorkerMain.run(new String[] {"--help"}, new PrintWriter(help), new PrintWriter(new StringWriter())))
                .isZero();
        assertThat(help.toString()).contains("--websocket=on|off");
    }
}
