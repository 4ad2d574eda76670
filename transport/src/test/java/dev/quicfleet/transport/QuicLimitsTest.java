package dev.quicfleet.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class QuicLimitsTest {

    @Test
    void defaultsAreTheDocumentedOnes() {
        QuicLimits limits = QuicLimits.defaults();
        assertThat(limits.idleTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(limits.maxStreams()).isEqualTo(256);
        assertThat(limits.maxData()).isEqualTo(16L << 20);
        assertThat(limits.maxStreamData()).isEqualTo(1L << 20);
        assertThat(limits.maxUdpPayload()).isEqualTo(1452);
        assertThat(limits.pmtuDiscovery()).isTrue();
        assertThat(limits.gsoSegments()).isEqualTo(16);
    }

    @Test
    void udpPayloadBelowTheQuicMinimumIsRejected() {
        assertThatThrownBy(() -> new QuicLimits(Duration.ofSeconds(30), 100, 1 << 20, 1 << 16, 1000, 1, 1 << 20))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("quic-max-udp-payload: 1000 (expected: 1200..65527)");
    }

    @Test
    void streamWindowLargerThanConnectionWindowIsRejected() {
        assertThatThrownBy(() -> new QuicLimits(Duration.ofSeconds(30), 100, 1 << 20, 2 << 20, 1350, 1, 1 << 20))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("quic-max-stream-data: 2097152 (expected: 16384..1048576)");
    }

    @Test
    void idleTimeoutOutsideItsRangeIsRejected() {
        assertThatThrownBy(() -> new QuicLimits(Duration.ofMillis(10), 100, 1 << 20, 1 << 16, 1350, 1, 1 << 20))
                .hasMessage("quic-idle-timeout: PT0.01S (expected: 1s..10m)");
    }

    @Test
    void handshakeTimeoutDefaultsToTenSecondsAndIsBounded() {
        assertThat(QuicLimits.defaults().handshakeTimeout()).isEqualTo(Duration.ofSeconds(10));
        assertThat(QuicLimits.defaults().withHandshakeTimeout(Duration.ofSeconds(3)).handshakeTimeout())
                .isEqualTo(Duration.ofSeconds(3));
        assertThatThrownBy(() -> QuicLimits.defaults().withHandshakeTimeout(Duration.ZERO))
                .hasMessage("handshake-timeout: 0s (expected: a duration of 100ms..5m, like 10s)");
        assertThatThrownBy(() -> QuicLimits.defaults().withHandshakeTimeout(Duration.ofHours(1)))
                .hasMessage("handshake-timeout: 1h (expected: a duration of 100ms..5m, like 10s)");
    }
}
