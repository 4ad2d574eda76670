package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quicfleet.worker.site.AppJar;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A worker JVM configured by a site file ({@code --config}): two named sites, a wildcard and the default site, with
 * routes to Debian's nginx as the upstream, a static directory, an app jar javac built here, a redirect and fixed
 * responses, plus a flag that takes one of the default site's paths. The clients are curl (HTTP/2 and HTTP/1.1) and
 * the ngtcp2 client (HTTP/3), each naming the host it asks for.
 */
class SiteConfigIT {

    private static Path dir;
    private static Nginx nginx;
    private static WorkerProcess worker;

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("quicfleet-sites-");
        nginx = Nginx.start(Files.createDirectories(dir.resolve("nginx")),
                "$request_uri|host=$http_host|xff=$http_x_forwarded_for", """
                location = /hello { return 200 "hello from nginx\\n"; }
                location = /healthz-site { return 200 "ok\\n"; }
                """);
        Files.createDirectories(dir.resolve("www"));
        Files.writeString(dir.resolve("www/a.txt"), "a static file\n");
        Files.createDirectories(dir.resolve("flag"));
        Files.writeString(dir.resolve("flag/a.txt"), "from the flag's directory\n");
        AppJar.build(dir.resolve("app.jar"), AppJar.greeter("hello from the app"));
        Path config = Files.writeString(dir.resolve("site.yaml"), """
                compression: off
                sites:
                  - hosts: [shop.test, www.shop.test]
                    routes:
                      - path: /
                        upstream: {urls: [%1$s], connect-timeout: 2s}
                      - path: /static
                        static: www
                      - path: /app
                        app: {jar: app.jar, class: com.example.Site}
                      - path: /checked
                        upstream: {urls: [%1$s], health-path: /healthz-site, health-interval: 200ms}
                  - hosts: ["*.blog.test"]
                    routes:
                      - path: /
                        respond: {body: "a blog\\n"}
                      - path: /old
                        redirect: {status: 301, location: "https://shop.test/"}
                  - default: true
                    routes:
                      - path: /
                        respond: {status: 404, body: "no such site\\n", content-type: text/plain}
                      - path: /flag
                        respond: {body: "from the file\\n"}
                """.formatted(nginx.url()));
        worker = WorkerProcess.start(dir.resolve("state"), "--config", config.toString(), "--static-dir",
                dir.resolve("flag").toString(), "--static-prefix", "/flag", "--trusted-proxies", "127.0.0.1/32");
    }

    @AfterAll
    static void stop() throws Exception {
        if (worker != null) {
            worker.close();
        }
        if (nginx != null) {
            nginx.close();
        }
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Test
    void eachHostGetsItsOwnRoutesOverHttp2AndHttp1() throws Exception {
        for (String protocol : List.of("--http2", "--http1.1")) {
            assertThat(curl(protocol, "shop.test", "/hello")).isEqualTo("200 hello from nginx\n");
            assertThat(curl(protocol, "www.shop.test", "/hello")).isEqualTo("200 hello from nginx\n");
            assertThat(curl(protocol, "shop.test", "/static/a.txt")).isEqualTo("200 a static file\n");
            assertThat(curl(protocol, "shop.test", "/app/x?y=1")).isEqualTo("200 hello from the app at /x\n");
            assertThat(curl(protocol, "shop.test", "/static/missing")).startsWith("404 ");
            assertThat(curl(protocol, "a.blog.test", "/")).isEqualTo("200 a blog\n");
            assertThat(curl(protocol, "x.y.blog.test", "/anything")).isEqualTo("200 a blog\n");
            assertThat(curl(protocol, "a.blog.test", "/old/page")).isEqualTo("301 location=https://shop.test/ ");
            // the wildcard is for subdomains only; other hosts get the default site
            assertThat(curl(protocol, "blog.test", "/")).isEqualTo("404 no such site\n");
            assertThat(curl(protocol, "other.test", "/whoami")).isEqualTo("404 no such site\n");
        }
        assertThat(nginx.accessLines()).contains("/hello|host=shop.test:" + worker.port() + "|xff=127.0.0.1",
                "/hello|host=www.shop.test:" + worker.port() + "|xff=127.0.0.1");
    }

    @Test
    void aWorkerWideFlagReachesTheSitesPools() throws Exception {
        // --trusted-proxies 127.0.0.1/32 on the command line: curl (from 127.0.0.1) is a trusted proxy, so the
        // X-Forwarded-For it sends is kept and appended to (an untrusted client's would be replaced by its address)
        assertThat(curl("--http2", "shop.test", "/hello?xff", "X-Forwarded-For: 203.0.113.7"))
                .isEqualTo("200 hello from nginx\n");
        assertThat(nginx.awaitAccessLine("/hello?xff")).endsWith("|xff=203.0.113.7, 127.0.0.1");
    }

    @Test
    void aPoolsOwnKeysOverrideTheWorkersOptions() throws Exception {
        // no --upstream-health-path: only the /checked pool's health-path key makes these requests
        assertThat(nginx.awaitAccessLine("/healthz-site")).startsWith("/healthz-site|");
        assertThat(curl("--http1.1", "shop.test", "/checked/x")).startsWith("404 ");
        assertThat(nginx.awaitAccessLine("/checked/x")).isEqualTo("/checked/x|host=shop.test:" + worker.port()
                + "|xff=127.0.0.1");
    }

    @Test
    void theFlagWinsOverTheDefaultSitesRouteOfTheSamePath() throws Exception {
        assertThat(curl("--http2", "other.test", "/flag/a.txt")).isEqualTo("200 from the flag's directory\n");
        // a named site is not the default site: the flag's any-host route is its fallback only
        assertThat(curl("--http2", "a.blog.test", "/flag/a.txt")).isEqualTo("200 a blog\n");
    }

    @Test
    void http3RequestsAreRoutedByTheirAuthority() throws Exception {
        Path download = Files.createDirectories(dir.resolve("h3"));
        Peers.requireInstalled(Peers.GTLSCLIENT);
        int port = worker.port();
        Peers.Run run = Peers.run(List.of(Peers.GTLSCLIENT, "--exit-on-all-streams-close", "--handshake-timeout=10s",
                "--timeout=15s", "-q", "--download", download.toString(), "127.0.0.1", Integer.toString(port),
                "https://shop.test:" + port + "/app/h3", "https://a.blog.test:" + port + "/blog"),
                Duration.ofSeconds(30), null, line -> { }, line -> { });
        assertThat(Files.readString(download.resolve("h3"))).as(run.stderrText())
                .isEqualTo("hello from the app at /h3\n");
        assertThat(Files.readString(download.resolve("blog"))).isEqualTo("a blog\n");
    }

    @Test
    void anAppThatIsNotAHandlerStopsTheWorkerWithOneErrorLine() throws Exception {
        Path config = Files.writeString(dir.resolve("bad.yaml"), """
                sites:
                  - default: true
                    routes:
                      - path: /
                        app: {jar: app.jar, class: java.lang.String}
                """);
        try (WorkerProcess bad = WorkerProcess.launch(dir.resolve("state"), "--config", config.toString())) {
            assertThat(bad.awaitExit(Duration.ofSeconds(60))).isEqualTo(2);
            assertThat(bad.stderr()).isEqualTo("error: sites[0].routes[0].app.class: java.lang.String in "
                    + dir.resolve("app.jar") + " is not a handler (expected: a class implementing "
                    + "dev.quicfleet.http.Handler or dev.quicfleet.http.Service)");
        }
    }

    /**
     * {@code STATUS BODY} of a GET for {@code host}{@code path} with {@code headers} (for a redirect:
     * {@code 301 location=URL }).
     */
    private static String curl(String protocol, String host, String path, String... headers) throws Exception {
        int port = worker.port();
        List<String> command = new ArrayList<>(List.of("curl", "-sSk", "--max-time", "20", protocol, "--resolve",
                host + ":" + port + ":127.0.0.1", "-w", "\\n%{http_code} %{redirect_url}"));
        for (String header : headers) {
            command.addAll(List.of("-H", header));
        }
        command.add("https://" + host + ":" + port + path);
        Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).as("curl %s", command).isZero();
        int cut = out.lastIndexOf('\n');
        String body = out.substring(0, cut);
        String[] tail = out.substring(cut + 1).split(" ", 2);
        return tail[0].startsWith("3") ? tail[0] + " location=" + tail[1] + " " : tail[0] + " " + body;
    }
}
