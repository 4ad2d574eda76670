package dev.quicfleet.worker.compression;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quicfleet.http.Headers;
import java.util.EnumSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The choices {@link Compression} makes, without a network: q-values, the server's order, eligibility, headers. */
class CompressionTest {

    private static final Set<ContentCoding> ALL = EnumSet.allOf(ContentCoding.class);

    @Test
    void theHighestQWinsAndTheServersOrderBreaksTies() {
        assertThat(Compression.negotiate("gzip, deflate, br, zstd", ALL)).isEqualTo(ContentCoding.ZSTD);
        assertThat(Compression.negotiate("gzip;q=1, br;q=0.9, zstd;q=0.8", ALL)).isEqualTo(ContentCoding.GZIP);
        assertThat(Compression.negotiate("br;q=0.5, gzip;q=0.5", ALL)).isEqualTo(ContentCoding.BROTLI);
        assertThat(Compression.negotiate("GZIP;Q=0.7, Br;q=0.2", ALL)).isEqualTo(ContentCoding.GZIP);
        assertThat(Compression.negotiate("x-gzip", ALL)).isEqualTo(ContentCoding.GZIP);
        assertThat(Compression.negotiate("*", ALL)).isEqualTo(ContentCoding.ZSTD);
        assertThat(Compression.negotiate("zstd;q=0, *", ALL)).isEqualTo(ContentCoding.BROTLI);
        assertThat(Compression.negotiate("gzip, br", EnumSet.of(ContentCoding.GZIP))).isEqualTo(ContentCoding.GZIP);
    }

    @Test
    void nothingIsChosenWithoutAnAcceptableCoding() {
        assertThat(Compression.negotiate(null, ALL)).isNull();
        assertThat(Compression.negotiate("", ALL)).isNull();
        assertThat(Compression.negotiate("identity", ALL)).isNull();
        assertThat(Compression.negotiate("deflate", ALL)).isNull();
        assertThat(Compression.negotiate("gzip;q=0", ALL)).isNull();
        assertThat(Compression.negotiate("*;q=0", ALL)).isNull();
        // malformed or out-of-range weights accept nothing
        assertThat(Compression.negotiate("gzip;q=abc", ALL)).isNull();
        assertThat(Compression.negotiate("gzip;q=2", ALL)).isNull();
        assertThat(Compression.negotiate("gzip;q=-1", ALL)).isNull();
        assertThat(Compression.negotiate(",,;;,", ALL)).isNull();
    }

    @Test
    void onlyTextLikeBodiesOfEnoughBytesWithoutAnEncodingAreEligible() {
        Compression compression = new Compression(CompressionConfig.DEFAULT);
        assertThat(compression.eligible(200, headers("text/html; charset=utf-8", null))).isTrue();
        assertThat(compression.eligible(200, headers("application/json", "512"))).isTrue();
        assertThat(compression.eligible(404, headers("text/plain", "2000"))).isTrue();
        assertThat(compression.eligible(200, headers("text/plain", "511"))).isFalse();
        assertThat(compression.eligible(200, headers("image/png", "100000"))).isFalse();
        assertThat(compression.eligible(200, headers(null, "100000"))).isFalse();
        assertThat(compression.eligible(206, headers("text/plain", "100000"))).isFalse();
        assertThat(compression.eligible(304, headers("text/plain", null))).isFalse();
        assertThat(compression.eligible(200, headers("text/plain", null).set("content-encoding", "gzip"))).isFalse();
        assertThat(compression.eligible(200, headers("text/plain", null).set("cache-control", "public, no-transform")))
                .isFalse();
    }

    @Test
    void compressedResponsesLoseTheirLengthAndRangesAndGetAWeakEtagAndVary() {
        Headers headers = headers("text/css", "9000").set("etag", "\"abc\"").set("accept-ranges", "bytes")
                .set("vary", "origin");
        Compression.vary(headers);
        Compression.apply(headers, ContentCoding.BROTLI);
        assertThat(headers.get("content-encoding")).isEqualTo("br");
        assertThat(headers.contains("content-length")).isFalse();
        assertThat(headers.contains("accept-ranges")).isFalse();
        assertThat(headers.get("etag")).isEqualTo("W/\"abc\"");
        assertThat(headers.get("vary")).isEqualTo("origin, accept-encoding");
        Headers already = new Headers().set("vary", "Accept-Encoding");
        Compression.vary(already);
        assertThat(already.get("vary")).isEqualTo("Accept-Encoding");
        Headers weak = new Headers().set("etag", "W/\"x\"");
        Compression.apply(weak, ContentCoding.GZIP);
        assertThat(weak.get("etag")).isEqualTo("W/\"x\"");
    }

    private static Headers headers(String contentType, String contentLength) {
        Headers headers = new Headers();
        if (contentType != null) {
            headers.set("content-type", contentType);
        }
        if (contentLength != null) {
            headers.set("content-length", contentLength);
        }
        return headers;
    }
}
