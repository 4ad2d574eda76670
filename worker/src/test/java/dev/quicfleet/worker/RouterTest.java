package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quicfleet.http.Handler;
import dev.quicfleet.http.HttpExchange;
import dev.quicfleet.http.Protocol;
import dev.quicfleet.http.Request;
import dev.quicfleet.http.Router;
import dev.quicfleet.worker.protocol.TestExchange;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class RouterTest {

    /** A handler that answers with its name and the route path it saw: {@code "static /a.css"}. */
    private static Handler named(String name) {
        return (request, response) -> response.send(200, "text/plain", name + " " + request.routePath());
    }

    private static String route(Router router, String authority, String target) throws Exception {
        TestResponse response = TestExchange.get(target).authority(authority).serve(router);
        return response.status() == 200 ? response.bodyText() : response.status() + " " + response.bodyText();
    }

    private static String route(Router router, String target) throws Exception {
        return route(router, "localhost:4433", target);
    }

    @Test
    void exactHostBeatsWildcardAndWildcardBeatsAnyHost() throws Exception {
        Router router = Router.builder()
                .route("/", named("any"))
                .route("*.example.com", "/", named("wildcard"))
                .route("api.example.com", "/", named("exact"))
                .build();

        assertThat(route(router, "api.example.com", "/x")).isEqualTo("exact /x");
        assertThat(route(router, "www.example.com", "/x")).isEqualTo("wildcard /x");
        assertThat(route(router, "other.org", "/x")).isEqualTo("any /x");
    }

    @Test
    void hostIsComparedCaseInsensitivelyAndWithoutPort() throws Exception {
        Router router = Router.builder().route("API.Example.COM", "/", named("api")).build();

        assertThat(route(router, "Api.Example.Com:4433", "/x")).isEqualTo("api /x");
    }

    @ParameterizedTest
    @CsvSource({"a.example.com, wildcard /", "a.b.example.com, wildcard /", "example.com, 404 not found",
            "badexample.com, 404 not found", "example.com.evil.org, 404 not found"})
    void wildcardMatchesSubdomainsButNotTheDomainItself(String host, String expected) throws Exception {
        Router router = Router.builder().route("*.example.com", "/", named("wildcard")).build();

        assertThat(route(router, host, "/")).isEqualTo(expected);
    }

    @Test
    void longerWildcardDomainWins() throws Exception {
        Router router = Router.builder()
                .route("*.example.com", "/", named("outer"))
                .route("*.cdn.eu.example.com", "/", named("innermost"))
                .route("*.eu.example.com", "/", named("inner"))
                .build();

        assertThat(route(router, "a.cdn.eu.example.com", "/")).isEqualTo("innermost /");
        assertThat(route(router, "cdn.eu.example.com", "/")).isEqualTo("inner /");
        assertThat(route(router, "cdn.us.example.com", "/")).isEqualTo("outer /");
    }

    @Test
    void hostWithoutMatchingPrefixFallsThroughToAnyHostRoutes() throws Exception {
        Router router = Router.builder()
                .route("api.example.com", "/v1", named("api"))
                .route("*.example.com", "/tenant", named("tenant"))
                .route("/health", named("health"))
                .build();

        assertThat(route(router, "api.example.com", "/v1/users")).isEqualTo("api /users");
        assertThat(route(router, "api.example.com", "/tenant")).isEqualTo("tenant /");
        assertThat(route(router, "api.example.com", "/health")).isEqualTo("health /");
        assertThat(route(router, "api.example.com", "/other")).isEqualTo("404 not found");
    }

    @Test
    void longestPrefixWins() throws Exception {
        Router router = Router.builder()
                .route("/", named("root"))
                .route("/api", named("api"))
                .route("/api/v1/admin", named("admin"))
                .route("/api/v1", named("v1"))
                .build();

        assertThat(route(router, "/api/v1/admin/users")).isEqualTo("admin /users");
        assertThat(route(router, "/api/v1/users")).isEqualTo("v1 /users");
        assertThat(route(router, "/api/v2")).isEqualTo("api /v2");
        assertThat(route(router, "/index.html")).isEqualTo("root /index.html");
    }

    @ParameterizedTest
    @CsvSource({"/static, static /", "/static/, static /", "/static/a.css, static /a.css",
            "/static/css/a.css, static /css/a.css", "/staticfoo, root /staticfoo", "/stat, root /stat",
            "/static?v=1, static /"})
    void prefixMatchesWholeSegmentsOnly(String target, String expected) throws Exception {
        Router router = Router.builder()
                .route("/", named("root"))
                .route("/static", named("static"))
                .build();

        assertThat(route(router, target)).isEqualTo(expected);
    }

    @ParameterizedTest
    @CsvSource({"/bytes/, bytes /", "/bytes/x, bytes /x", "/bytes, 404 not found", "/bytesx, 404 not found"})
    void prefixWithTrailingSlashRequiresTheSlash(String target, String expected) throws Exception {
        Router router = Router.builder().route("/bytes/", named("bytes")).build();

        assertThat(route(router, target)).isEqualTo(expected);
    }

    @Test
    void rootPrefixPassesWholePath() throws Exception {
        Router router = Router.builder().route("/", named("root")).build();

        assertThat(route(router, "/a/b%20c?q=1")).isEqualTo("root /a/b%20c");
    }

    @Test
    void routedRequestKeepsEverythingButRoutePath() throws Exception {
        AtomicReference<Request> seen = new AtomicReference<>();
        Router router = Router.builder().route("/static", (request, response) -> seen.set(request)).build();
        TestExchange request = TestExchange.get("/static/a%20b.css?v=1&x=y")
                .authority("Cdn.Example.com:4433")
                .header("accept", "text/css");
        Request original = request.build();

        request.serve(router);

        Request routed = seen.get();
        assertThat(routed.routePath()).isEqualTo("/a%20b.css");
        assertThat(routed.method()).isEqualTo("GET");
        assertThat(routed.target()).isEqualTo("/static/a%20b.css?v=1&x=y");
        assertThat(routed.path()).isEqualTo("/static/a%20b.css");
        assertThat(routed.query()).isEqualTo("v=1&x=y");
        assertThat(routed.queryParam("x")).isEqualTo("y");
        assertThat(routed.authority()).isEqualTo("Cdn.Example.com:4433");
        assertThat(routed.host()).isEqualTo("cdn.example.com");
        assertThat(routed.scheme()).isEqualTo("https");
        assertThat(routed.headers().get("accept")).isEqualTo("text/css");
        assertThat(routed.contentLength()).isEqualTo(original.contentLength());
        assertThat(routed.trailers()).isEqualTo(original.trailers());
        assertThat(routed.connection()).isSameAs(original.connection());
        assertThat(routed.protocol()).isEqualTo(Protocol.H3);
    }

    @Test
    void nestedRoutersCompose() throws Exception {
        AtomicReference<Request> seen = new AtomicReference<>();
        Router v1 = Router.builder()
                .route("/users", named("users"))
                .route("/raw", (request, response) -> seen.set(request))
                .build();
        Router api = Router.builder().route("/v1", v1).build();
        Router router = Router.builder().route("/api", api).route("/", named("root")).build();

        assertThat(route(router, "/api/v1/users/42")).isEqualTo("users /42");
        assertThat(route(router, "/api/v1/users")).isEqualTo("users /");
        assertThat(route(router, "/api/v2")).isEqualTo("404 not found");
        TestExchange.get("/api/v1/raw/x").serve(router);
        assertThat(seen.get().routePath()).isEqualTo("/x");
        assertThat(seen.get().path()).isEqualTo("/api/v1/raw/x");
    }

    @Test
    void nestedRoutersPassTheSameExchangeOn() throws Exception {
        AtomicReference<HttpExchange> outerSaw = new AtomicReference<>();
        AtomicReference<HttpExchange> innerSaw = new AtomicReference<>();
        Router inner = Router.builder().route("/v1", exchange -> {
            innerSaw.set(exchange);
            exchange.respond(200, "text/plain", exchange.routePath());
        }).build();
        Router outer = Router.builder().route("/api", exchange -> {
            outerSaw.set(exchange);
            inner.serve(exchange);
        }).build();

        TestResponse response = TestExchange.get("/api/v1/x").serve(outer);

        assertThat(response.bodyText()).isEqualTo("/x");
        assertThat(innerSaw.get()).isSameAs(outerSaw.get());
    }

    @Test
    void unmatchedRequestGetsPlainTextNotFound() throws Exception {
        Router router = Router.builder().route("/api", named("api")).build();

        TestResponse response = TestExchange.get("/other").serve(router);

        assertThat(response.status()).isEqualTo(404);
        assertThat(response.header("content-type")).isEqualTo("text/plain; charset=utf-8");
        assertThat(response.bodyText()).isEqualTo("not found");
    }

    @Test
    void customNotFoundHandlerSeesUnchangedRequest() throws Exception {
        Router router = Router.builder()
                .route("/api", named("api"))
                .notFound((request, response) -> response.send(404, "text/html", "<p>no " + request.routePath()))
                .build();

        TestResponse response = TestExchange.get("/other/page").serve(router);

        assertThat(response.status()).isEqualTo(404);
        assertThat(response.bodyText()).isEqualTo("<p>no /other/page");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "static", "static/", "/a?b", "/a#b"})
    void builderRejectsInvalidPrefix(String prefix) {
        assertThatThrownBy(() -> Router.builder().route(prefix, named("x")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("\"" + prefix + "\"")
                .hasMessageContaining("expected: a path starting with /");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", " ", "*", "*.", "*..com", "a.*.com", "*.*.com", "*example.com", "example.com:443"})
    void builderRejectsInvalidHost(String host) {
        assertThatThrownBy(() -> Router.builder().route(host, "/", named("x")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("host: \"" + host + "\"");
    }

    @Test
    void builderAcceptsIpv6LiteralHost() throws Exception {
        Router router = Router.builder().route("[::1]", "/", named("loopback")).build();

        assertThat(route(router, "[::1]:4433", "/")).isEqualTo("loopback /");
    }

    @Test
    void builderRejectsDuplicateHostAndPrefix() {
        Router.Builder sameHost = Router.builder()
                .route("Example.com", "/static", named("a"))
                .route("example.com", "/static", named("b"));
        Router.Builder anyHost = Router.builder()
                .route("/static", named("a"))
                .route("/static", named("b"));

        assertThatThrownBy(sameHost::build)
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("host example.com")
                .hasMessageContaining("prefix /static");
        assertThatThrownBy(anyHost::build)
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("any host")
                .hasMessageContaining("prefix /static");
    }

    @Test
    void samePrefixForDifferentHostsIsNoDuplicate() throws Exception {
        Router router = Router.builder()
                .route("/static", named("any"))
                .route("a.example.com", "/static", named("a"))
                .route("*.example.com", "/static", named("wildcard"))
                .build();

        assertThat(route(router, "a.example.com", "/static/x")).isEqualTo("a /x");
        assertThat(route(router, "b.example.com", "/static/x")).isEqualTo("wildcard /x");
        assertThat(route(router, "example.com", "/static/x")).isEqualTo("any /x");
    }

    @Test
    void laterBuilderChangesDoNotAffectBuiltRouter() throws Exception {
        Router.Builder builder = Router.builder().route("/a", named("a"));
        Router router = builder.build();
        builder.route("/b", named("b"));

        assertThat(route(router, "/b")).isEqualTo("404 not found");
    }
}
