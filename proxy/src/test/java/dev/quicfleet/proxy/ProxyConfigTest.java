package dev.quicfleet.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProxyConfigTest {

    @Test
    void defaultsAreNginxAndCaddyLike() {
        ProxyConfig config = ProxyConfig.builder("http://127.0.0.1:8080").build();
        assertThat(config.upstreams()).containsExactly(URI.create("http://127.0.0.1:8080"));
        assertThat(config.balance()).isEqualTo(ProxyConfig.Balance.ROUND_ROBIN);
        assertThat(config.connectTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(config.responseTimeout()).isEqualTo(Duration.ofSeconds(60));
        assertThat(config.idleTimeout()).isEqualTo(Duration.ofSeconds(60));
        assertThat(config.maxFails()).isEqualTo(3);
        assertThat(config.failBackoff()).isEqualTo(Duration.ofSeconds(10));
    }

    @Test
    void upstreamsAreNormalized() {
        assertThat(ProxyConfig.parseUpstream(" HTTP://LocalHost:8080/ ")).isEqualTo(URI.create("http://localhost:8080"));
        assertThat(ProxyConfig.parseUpstream("http://[::1]:8080")).isEqualTo(URI.create("http://[::1]:8080"));
        assertThat(ProxyConfig.parseUpstream("H2C://127.0.0.1:50051")).isEqualTo(URI.create("h2c://127.0.0.1:50051"));
        assertThat(ProxyConfig.parseUpstream("https://localhost:8443/"))
                .isEqualTo(URI.create("https://localhost:8443"));
    }

    @Test
    void aBadUpstreamCaFileIsOneClearError(@TempDir Path tmp) throws Exception {
        Path missing = tmp.resolve("missing.pem");
        assertThatThrownBy(() -> ProxyConfig.builder("https://127.0.0.1:8443").upstreamCa(missing).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("upstream-ca: " + missing + " (no such file; expected: a PEM file with the CA certificates "
                        + "that signed the upstreams' certificates)");
        Path garbage = Files.writeString(tmp.resolve("garbage.pem"), "-----BEGIN CERTIFICATE-----\nnot base64!\n"
                + "-----END CERTIFICATE-----\n");
        assertThatThrownBy(() -> ProxyConfig.builder("https://127.0.0.1:8443").upstreamCa(garbage).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("upstream-ca: " + garbage + " (not a certificate file: ")
                .hasMessageEndingWith("; expected: a PEM file with the CA certificates that signed the upstreams' "
                        + "certificates)");
        Path empty = Files.writeString(tmp.resolve("empty.pem"), "");
        assertThatThrownBy(() -> ProxyConfig.builder("https://127.0.0.1:8443").upstreamCa(empty).build())
                .hasMessageContaining("(no certificate in it;");
        assertThatThrownBy(() -> ProxyConfig.builder("https://127.0.0.1:8443").upstreamServerName("a:1").build())
                .hasMessage("upstream-server-name: a:1 (expected: a host name such as api.internal)");
    }

    @Test
    void badUpstreamsNameTheValueAndWhatIsExpected() {
        assertThatThrownBy(() -> ProxyConfig.parseUpstream("ws://127.0.0.1:8443"))
                .hasMessage("upstream: ws://127.0.0.1:8443 (scheme ws is not supported; expected: http://HOST:PORT, "
                        + "h2c://HOST:PORT or https://HOST:PORT such as http://127.0.0.1:8080)");
        assertThatThrownBy(() -> ProxyConfig.parseUpstream("http://127.0.0.1")).hasMessageContaining("(no port;");
        assertThatThrownBy(() -> ProxyConfig.parseUpstream("localhost:8080")).hasMessageContaining("(no scheme://host:port;");
        assertThatThrownBy(() -> ProxyConfig.parseUpstream("http://u@127.0.0.1:1")).hasMessageContaining("user info");
        assertThatThrownBy(() -> ProxyConfig.parseUpstream("http://127.0.0.1:1/api?x"))
                .hasMessageContaining("path, query or fragment");
        assertThatThrownBy(() -> ProxyConfig.builder().build())
                .hasMessage("upstream: none given (expected: at least one http://HOST:PORT)");
    }

    @Test
    void outOfRangeValuesNameTheKey() {
        assertThatThrownBy(() -> ProxyConfig.builder("http://127.0.0.1:1").idleTimeout(Duration.ZERO).build())
                .hasMessage("upstream-idle-timeout: 0s (expected: 10ms..24h)");
        assertThatThrownBy(() -> ProxyConfig.builder("http://127.0.0.1:1").passiveHealth(0, Duration.ofSeconds(1))
                .build()).hasMessage("upstream-max-fails: 0 (expected: 1..1000)");
        assertThatThrownBy(() -> ProxyConfig.Balance.parse("random"))
                .hasMessage("upstream-balance: random (expected: round-robin or least-requests)");
    }
}
