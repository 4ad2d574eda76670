package dev.quicfleet.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class ConfigValuesTest {

    @Test
    void durationsWithUnitsAndIso8601() {
        assertThat(ConfigValues.duration("k", "500ms")).isEqualTo(Duration.ofMillis(500));
        assertThat(ConfigValues.duration("k", "30s")).isEqualTo(Duration.ofSeconds(30));
        assertThat(ConfigValues.duration("k", "5m")).isEqualTo(Duration.ofMinutes(5));
        assertThat(ConfigValues.duration("k", "1H")).isEqualTo(Duration.ofHours(1));
        assertThat(ConfigValues.duration("k", "2d")).isEqualTo(Duration.ofDays(2));
        assertThat(ConfigValues.duration("k", "pt1m30s")).isEqualTo(Duration.ofSeconds(90));
        assertThatThrownBy(() -> ConfigValues.duration("idle-timeout", "10 parsecs"))
                .hasMessage("idle-timeout: 10 parsecs (expected: a duration such as 500ms, 30s, 5m, 1h or PT30S)");
    }

    @Test
    void sizesWithBinaryUnits() {
        assertThat(ConfigValues.size("k", "1024")).isEqualTo(1024);
        assertThat(ConfigValues.size("k", "64k")).isEqualTo(64 * 1024);
        assertThat(ConfigValues.size("k", "16MiB")).isEqualTo(16L << 20);
        assertThat(ConfigValues.size("k", "1 g")).isEqualTo(1L << 30);
        assertThatThrownBy(() -> ConfigValues.size("quic-max-data", "-1"))
                .hasMessageStartingWith("quic-max-data: -1 (expected: a byte size");
        assertThatThrownBy(() -> ConfigValues.size("k", "99999999999999999g")).hasMessageContaining("below 8 EiB");
    }

    @Test
    void formatReadsBack() {
        for (Duration d : new Duration[] {Duration.ofMillis(250), Duration.ofSeconds(45), Duration.ofMinutes(3),
                Duration.ofHours(2), Duration.ZERO}) {
            assertThat(ConfigValues.duration("k", ConfigValues.format(d))).isEqualTo(d);
        }
    }
}
