package dev.quicfleet.worker.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The request-line helpers every protocol shares. */
class ExchangeTest {

    @Test
    void hostOfStripsPortAndBracketsAndLowerCases() {
        assertThat(Exchange.hostOf("Example.COM:4433")).isEqualTo("example.com");
        assertThat(Exchange.hostOf("localhost")).isEqualTo("localhost");
        assertThat(Exchange.hostOf("[::1]:4433")).isEqualTo("::1");
        assertThat(Exchange.hostOf("[::1]")).isEqualTo("::1");
        assertThat(Exchange.hostOf("")).isEmpty();
        assertThat(Exchange.hostOf(null)).isEmpty();
    }

    @Test
    void queryParamDecodesAndFindsTheFirstValue() {
        assertThat(Exchange.queryParam("a=1&b=two%20words&a=3", "a")).isEqualTo("1");
        assertThat(Exchange.queryParam("a=1&b=two%20words", "b")).isEqualTo("two words");
        assertThat(Exchange.queryParam("q=a+b", "q")).isEqualTo("a b");
        assertThat(Exchange.queryParam("flag&x=1", "flag")).isEmpty();
        assertThat(Exchange.queryParam("x=1", "y")).isNull();
        assertThat(Exchange.queryParam("", "x")).isNull();
        assertThat(Exchange.queryParam("bad=%zz&good=1", "good")).isEqualTo("1");
    }

    @Test
    void contentLengthIsParsedLeniently() {
        assertThat(Exchange.parseContentLength("42")).isEqualTo(42);
        assertThat(Exchange.parseContentLength(" 7 ")).isEqualTo(7);
        assertThat(Exchange.parseContentLength(null)).isEqualTo(-1);
        assertThat(Exchange.parseContentLength("-3")).isEqualTo(-1);
        assertThat(Exchange.parseContentLength("x")).isEqualTo(-1);
    }

    @Test
    void statusesWithoutBody() {
        assertThat(Exchange.noBodyStatus(204)).isTrue();
        assertThat(Exchange.noBodyStatus(304)).isTrue();
        assertThat(Exchange.noBodyStatus(200)).isFalse();
        assertThat(Exchange.noBodyStatus(404)).isFalse();
    }
}
