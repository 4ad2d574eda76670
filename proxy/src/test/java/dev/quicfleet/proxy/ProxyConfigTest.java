package dev.quicfleet.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.time.Duration;
import org.junit.jupiter.api.Test;

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
    }

    @Test
    void badUpstreamsNameTheValueAndWhatIsExpected() {
        assertThatThrownBy(() -> ProxyConfig.parseUpstream("https://127.0.0.1:8443"))
                .hasMessage("upstream: https://127.0.0.1:8443 (scheme https is not supported yet; expected: "
                        + "http://HOST:PORT such as http://127.0.0.1:8080)");
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
