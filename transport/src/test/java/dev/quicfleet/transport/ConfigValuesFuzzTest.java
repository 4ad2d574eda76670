package dev.quicfleet.transport;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * Fuzzes the value syntaxes of every flag and config file ({@link ConfigValues}): durations and byte sizes. Contract:
 * a value is either accepted or refused with an {@link IllegalArgumentException} whose message names the key and the
 * value and says what is expected — never another exception, never a message without the key (an operator would not
 * know which option is wrong); an accepted size is not negative; a duration that {@code format} prints reads back as
 * the same duration. See docs/FUZZING.md.
 */
class ConfigValuesFuzzTest {

    @FuzzTest(maxDuration = "10s")
    void parsesOrNamesTheKey(String text) {
        if (text == null) {
            return;
        }
        try {
            Duration d = ConfigValues.duration("some-timeout", text);
            assertThat(ConfigValues.format(d)).isNotEmpty(); // messages print any duration a user can give
            // format() keeps milliseconds up to 292 million years (what toMillis() holds), whole seconds beyond
            if (!d.isNegative() && d.getNano() % 1_000_000 == 0
                    && (d.getNano() == 0 || d.getSeconds() < Long.MAX_VALUE / 1000)) {
                assertThat(ConfigValues.duration("some-timeout", ConfigValues.format(d))).isEqualTo(d);
            }
        } catch (IllegalArgumentException e) {
            assertThat(e).hasMessageStartingWith("some-timeout: ").hasMessageContaining("(expected: ");
        }
        try {
            assertThat(ConfigValues.size("some-size", text)).isNotNegative();
        } catch (IllegalArgumentException e) {
            assertThat(e).hasMessageStartingWith("some-size: ").hasMessageContaining("(expected: ");
        }
    }

    /** What the fuzzer found, spelled out: numbers too long for a long, and durations too long for milliseconds. */
    @Test
    void tooLargeValuesAreRefusedWithTheKeyAndHugeDurationsStillFormat() {
        parsesOrNamesTheKey("99999999999999999999s");
        parsesOrNamesTheKey("106751991167301d");
        parsesOrNamesTheKey("99999999999999999999k");
        parsesOrNamesTheKey("PT9223372036854775.5S");
        parsesOrNamesTheKey("PT-9223372036854775808S");
        assertThat(ConfigValues.format(Duration.ofSeconds(Long.MAX_VALUE, 500_000_000))).endsWith("s");
    }
}
