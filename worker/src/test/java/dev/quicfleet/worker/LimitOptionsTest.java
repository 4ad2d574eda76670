package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The slow-client limits as flags and config keys: documented defaults, and bad values named with the fix. */
class LimitOptionsTest {

    @TempDir
    Path tmp;

    private static WorkerConfig parse(String... args) {
        return WorkerMain.parse(args, new PrintWriter(new StringWriter()));
    }

    @Test
    void defaultsAreTheDocumentedOnes() {
        WorkerConfig config = parse();
        assertThat(config.headerTimeout()).isEqualTo(Duration.ofSeconds(10));
        assertThat(config.bodyMinRate()).isEqualTo(240);
        assertThat(config.bodyTimeout()).isEqualTo(Duration.ofSeconds(60));
        assertThat(WorkerConfig.builder().build().headerTimeout()).isEqualTo(WorkerConfig.DEFAULT_HEADER_TIMEOUT);
        assertThat(WorkerConfig.builder().build().bodyMinRate()).isEqualTo(WorkerConfig.DEFAULT_BODY_MIN_RATE);
    }

    @Test
    void flagsAndConfigKeysSetThem() throws Exception {
        WorkerConfig flags = parse("--header-timeout", "5s", "--body-min-rate", "1k");
        assertThat(flags.headerTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(flags.bodyMinRate()).isEqualTo(1024);
        assertThat(parse("--body-min-rate", "0").bodyMinRate()).isZero();

        Path file = Files.writeString(tmp.resolve("worker.yaml"), "header-timeout: 20s\nbody-min-rate: 500\n");
        WorkerConfig yaml = parse("--config", file.toString());
        assertThat(yaml.headerTimeout()).isEqualTo(Duration.ofSeconds(20));
        assertThat(yaml.bodyMinRate()).isEqualTo(500);
    }

    @Test
    void badValuesNameKeyValueAndExpectation() {
        assertThatThrownBy(() -> parse("--header-timeout", "0s"))
                .hasMessage("header-timeout: 0s (expected: 1s..10m)");
        assertThatThrownBy(() -> parse("--header-timeout", "1h"))
                .hasMessage("header-timeout: 1h (expected: 1s..10m)");
        assertThatThrownBy(() -> parse("--body-min-rate", "fast"))
                .hasMessage("body-min-rate: fast (expected: bytes per second such as 240, 1k or 1MiB; 0 turns the "
                        + "check off)");
        assertThatThrownBy(() -> parse("--body-min-rate", "2g"))
                .hasMessage("body-min-rate: 2147483648 (expected: bytes per second up to 1g; 0 turns the check off)");
    }
}
