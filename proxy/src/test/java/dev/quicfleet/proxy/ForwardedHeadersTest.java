package dev.quicfleet.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quicfleet.http.Headers;
import dev.quicfleet.proxy.ForwardedHeaders.Framing;
import dev.quicfleet.proxy.ForwardedHeaders.Hop;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

class ForwardedHeadersTest {

    private static final InetSocketAddress CLIENT = new InetSocketAddress("192.0.2.10", 50_000);

    private static HttpHeaders upstream(Headers in, String method, boolean earlyData, Framing framing, long length) {
        return upstream(in, Hop.PLAIN, method, earlyData, framing, length);
    }

    private static HttpHeaders upstream(Headers in, Hop hop, String method, boolean earlyData, Framing framing,
                                        long length) {
        HttpHeaders out = new DefaultHttpHeaders();
        ForwardedHeaders.request(in, method, "example.com:443", "127.0.0.1:8080", CLIENT, hop, earlyData, framing,
                length, out);
        return out;
    }

    @Test
    void hopByHopRequestFieldsAndThoseConnectionNamesAreDropped() {
        Headers in = Headers.of("connection", "keep-alive, X-Secret", "x-secret", "1", "keep-alive", "timeout=5",
                "proxy-connection", "keep-alive", "upgrade", "websocket", "transfer-encoding", "chunked",
                "te", "gzip", "host", "evil.example", "expect", "100-continue", "accept", "text/html");
        HttpHeaders out = upstream(in, "GET", false, Framing.NONE, -1);
        assertThat(out.names()).containsExactlyInAnyOrder("accept", "host", "x-forwarded-for", "x-forwarded-proto",
                "x-forwarded-host");
        assertThat(out.get("host")).as("the client's authority, not a Host header it added").isEqualTo(
                "example.com:443");
    }

    @Test
    void teKeepsOnlyTrailers() {
        assertThat(upstream(Headers.of("te", "trailers, deflate;q=0.5"), "GET", false, Framing.NONE, -1).get("te"))
                .isEqualTo("trailers");
        assertThat(upstream(Headers.of("te", "deflate"), "GET", false, Framing.NONE, -1).contains("te")).isFalse();
    }

    private static final Headers SPOOFED = Headers.of("x-forwarded-for", "203.0.113.7", "x-forwarded-for",
            "10.0.0.1", "x-forwarded-proto", "http", "x-forwarded-host", "spoofed", "forwarded", "for=203.0.113.7");

    @Test
    void anUntrustedClientsForwardingFieldsAreReplaced() {
        HttpHeaders out = upstream(SPOOFED, "GET", false, Framing.NONE, -1);
        assertThat(out.getAll("x-forwarded-for")).containsExactly("192.0.2.10");
        assertThat(out.getAll("x-forwarded-proto")).containsExactly("https");
        assertThat(out.getAll("x-forwarded-host")).containsExactly("example.com:443");
        assertThat(out.contains("forwarded")).as("dropped: the client wrote it").isFalse();
        assertThat(out.contains("early-data")).isFalse();
    }

    @Test
    void aTrustedProxysForwardingFieldsAreKeptAndAppendedTo() {
        HttpHeaders out = upstream(SPOOFED, new Hop(true, true, null), "GET", false, Framing.NONE, -1);
        assertThat(out.getAll("x-forwarded-for")).containsExactly("203.0.113.7, 10.0.0.1, 192.0.2.10");
        assertThat(out.getAll("x-forwarded-proto")).containsExactly("http");
        assertThat(out.getAll("x-forwarded-host")).containsExactly("spoofed");
        assertThat(out.getAll("forwarded")).containsExactly(
                "for=203.0.113.7, for=192.0.2.10;host=\"example.com:443\";proto=https");
    }

    @Test
    void forwardedReplacesAnUntrustedOneAndQuotesIpv6() {
        HttpHeaders out = upstream(SPOOFED, new Hop(false, true, null), "GET", false, Framing.NONE, -1);
        assertThat(out.getAll("forwarded")).containsExactly("for=192.0.2.10;host=\"example.com:443\";proto=https");
        assertThat(ForwardedHeaders.forwardedElement(new InetSocketAddress("2001:db8::7", 1), "example.com"))
                .isEqualTo("for=\"[2001:db8:0:0:0:0:0:7]\";host=example.com;proto=https");
        assertThat(ForwardedHeaders.forwardedElement(null, null)).isEqualTo("for=unknown;proto=https");
    }

    @Test
    void viaIsAppendedToWhatTheClientSent() {
        assertThat(upstream(Headers.of("via", "1.1 cdn"), new Hop(false, false, "3 quicfleet"), "GET", false,
                Framing.NONE, -1).getAll("via")).containsExactly("1.1 cdn, 3 quicfleet");
        assertThat(upstream(new Headers(), new Hop(false, false, "2 quicfleet"), "GET", false, Framing.NONE, -1)
                .getAll("via")).containsExactly("2 quicfleet");
        assertThat(upstream(new Headers(), "GET", false, Framing.NONE, -1).contains("via")).isFalse();
    }

    @Test
    void earlyDataIsMarked() {
        assertThat(upstream(new Headers(), "GET", true, Framing.NONE, -1).get("early-data")).isEqualTo("1");
    }

    @Test
    void cookiesOfHttp2AndHttp3AreJoinedIntoOneField() {
        HttpHeaders out = upstream(Headers.of("cookie", "a=1", "cookie", "b=2"), "GET", false, Framing.NONE, -1);
        assertThat(out.getAll("cookie")).containsExactly("a=1; b=2");
    }

    @Test
    void framingSetsLengthChunkedOrAnEmptyBodyForBodyMethods() {
        HttpHeaders length = upstream(Headers.of("content-length", "99"), "PUT", false, Framing.LENGTH, 5);
        assertThat(length.getAll("content-length")).containsExactly("5");
        HttpHeaders chunked = upstream(new Headers(), "POST", false, Framing.CHUNKED, -1);
        assertThat(chunked.get("transfer-encoding")).isEqualTo("chunked");
        assertThat(chunked.contains("content-length")).isFalse();
        assertThat(upstream(new Headers(), "POST", false, Framing.NONE, -1).get("content-length")).isEqualTo("0");
        assertThat(upstream(new Headers(), "GET", false, Framing.NONE, -1).contains("content-length")).isFalse();
    }

    @Test
    void responseLosesHopByHopFieldsAndTheUpstreamsAltSvc() {
        HttpHeaders in = new DefaultHttpHeaders();
        in.add("Connection", "keep-alive").add("Connection", "X-Secret").add("X-Secret", "s")
                .add("Keep-Alive", "timeout=5").add("Upgrade", "h2c").add("Alt-Svc", "h3=\":443\"")
                .add("Transfer-Encoding", "chunked").add("Content-Length", "12").add("Content-Type", "text/plain")
                .add("Set-Cookie", "a=1").add("Set-Cookie", "b=2");
        Headers out = ForwardedHeaders.response(in);
        assertThat(out.names()).containsExactly("content-type", "set-cookie");
        assertThat(out.getAll("set-cookie")).containsExactly("a=1", "b=2");

        HttpHeaders sized = new DefaultHttpHeaders().add("Content-Length", "12");
        assertThat(ForwardedHeaders.response(sized).get("content-length")).isEqualTo("12");
    }
}
