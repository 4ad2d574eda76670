package dev.quicfleet.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class HeadersTest {

    @Test
    void namesAreKeptInLowerCaseAndLookedUpWithoutCase() {
        Headers headers = new Headers().add("Content-Type", "text/plain").add("x-trace-id", "a").add("X-Trace-ID", "b");

        assertThat(headers.names()).containsExactly("content-type", "x-trace-id");
        assertThat(headers.get("CONTENT-TYPE")).isEqualTo("text/plain");
        assertThat(headers.getAll("x-TRACE-id")).containsExactly("a", "b");
    }

    @Test
    void everyTokenCharacterIsAName() {
        String tchars = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        assertThat(new Headers().add(tchars, "v").names()).containsExactly(tchars.toLowerCase());
    }

    @Test
    void aNameThatIsNoTokenIsRefusedWithWhatIsExpected() {
        for (String name : List.of("", "a b", "a:b", "a\tb", "caf\u00e9", "a\u007fb", "(x)", "a\"b", "a/b", "a{b}",
                "\u0000")) {
            assertThatThrownBy(() -> new Headers().add(name, "v")).as(name)
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected: an HTTP token");
        }
    }

    @Test
    void aValueWithCrLfOrNulIsRefused() {
        for (String value : List.of("a\r\nx-injected: 1", "a\nb", "a\u0000b")) {
            assertThatThrownBy(() -> new Headers().set("x", value)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("value contains CR, LF or NUL");
        }
        assertThat(new Headers().add("x", "tab\tand obs-text \u00e9 are kept").get("x"))
                .isEqualTo("tab\tand obs-text \u00e9 are kept");
    }
}
