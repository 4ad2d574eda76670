package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * One page through the reverse proxy in a real browser: Debian's nginx serves an HTML page with a style sheet and an
 * image; a worker process started with {@code --upstream} proxies to it; headless Chromium loads the page through
 * the worker over HTTP/3 (QUIC forced for the origin) and over HTTP/2 (QUIC disabled). A script in the page writes
 * into the DOM what the browser got (the image's size, a colour from the style sheet, each resource's protocol); the
 * worker's access log says which protocol each request came over and that nginx answered it.
 */
class ProxyBrowserIT {

    private static final Pattern SPKI = Pattern.compile("--ignore-certificate-errors-spki-list=(\\S+)\\)");
    private static final String PAGE = """
            <!doctype html>
            <html><head><title>through the proxy</title><link rel="stylesheet" href="style.css"></head>
            <body><img id="picture" src="picture.png" alt="picture"><p id="report">not loaded</p>
            <script>
            window.addEventListener('load', () => {
              const picture = document.getElementById('picture');
              const hops = performance.getEntriesByType('resource')
                  .map(e => new URL(e.name).pathname + '=' + e.nextHopProtocol).sort().join(' ');
              document.getElementById('report').textContent = 'image=' + picture.naturalWidth + 'x'
                  + picture.naturalHeight + ' colour=' + getComputedStyle(document.body).backgroundColor
                  + ' page=' + performance.getEntriesByType('navigation')[0].nextHopProtocol + ' ' + hops;
            });
            </script></body></html>
            """;

    private static Path dir;
    private static Nginx nginx;
    private static WorkerProcess worker;
    private static String spki;

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("quicfleet-proxy-browser-");
        for (String protocol : List.of("h3", "h2")) {
            Path www = Files.createDirectories(dir.resolve("www").resolve(protocol));
            Files.writeString(www.resolve("index.html"), PAGE);
            Files.writeString(www.resolve("style.css"), "body { background-color: rgb(1, 2, 3); }\n");
            BufferedImage picture = new BufferedImage(7, 5, BufferedImage.TYPE_INT_RGB);
            ImageIO.write(picture, "png", www.resolve("picture.png").toFile());
        }
        nginx = Nginx.start(dir, "$request_method $request_uri|status=$status|",
                // Chromium applies a style sheet only when it comes as text/css: the type must pass the proxy.
                "location / { root $DIR/www; types { text/html html; text/css css; image/png png; } }\n");
        worker = WorkerProcess.start(dir.resolve("state"), "--upstream", nginx.url(),
                "--access-log", dir.resolve("worker-access.log").toString(), "--access-log-format", "json");
        // The worker prints the pin Chromium needs for the generated development certificate.
        String line = worker.awaitStderr(l -> l.contains("--ignore-certificate-errors-spki-list="),
                Duration.ofSeconds(10));
        assertThat(line).as("stderr: %s", worker.stderr()).isNotNull();
        Matcher m = SPKI.matcher(line);
        assertThat(m.find()).isTrue();
        spki = m.group(1);
    }

    @AfterAll
    static void stop() throws IOException {
        try {
            if (worker != null) {
                worker.close();
            }
        } finally {
            if (nginx != null) {
                nginx.close();
            }
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    @Test
    void aPageWithAStyleSheetAndAnImageLoadsThroughTheProxyOverHttp3() throws Exception {
        Peers.Run run = Peers.chromiumDumpDom(worker.port(), spki, "/h3/index.html", Duration.ofSeconds(60));
        assertThat(run.stdoutText()).as("chromium stderr: %s", run.stderrText()).contains(
                "image=7x5 colour=rgb(1, 2, 3) page=h3 /h3/picture.png=h3 /h3/style.css=h3</p>");
        assertProxied("h3", "HTTP/3.0");
    }

    @Test
    void theSamePageLoadsThroughTheProxyOverHttp2() throws Exception {
        Peers.Run run = chromiumWithoutQuic("/h2/index.html");
        assertThat(run.stdoutText()).as("chromium stderr: %s", run.stderrText()).contains(
                "image=7x5 colour=rgb(1, 2, 3) page=h2 /h2/picture.png=h2 /h2/style.css=h2</p>");
        assertProxied("h2", "HTTP/2.0");
    }

    /** The page and its subresources under {@code /prefix/} came over {@code protocol} and nginx answered them. */
    private static void assertProxied(String prefix, String protocol) throws Exception {
        for (String file : List.of("index.html", "style.css", "picture.png")) {
            String path = "/" + prefix + "/" + file;
            JsonNode line = accessLogLine(path);
            assertThat(line.get("protocol").asText()).as(path).isEqualTo(protocol);
            assertThat(line.get("status").asInt()).as(path).isEqualTo(200);
            assertThat(line.get("upstream").asText()).as(path).isEqualTo(nginx.url());
            assertThat(nginx.accessLines()).contains("GET " + path + "|status=200|");
        }
    }

    /** Chromium with the flags of {@link Peers#chromiumDumpDom} but QUIC disabled: HTTP/2 over TLS. */
    private static Peers.Run chromiumWithoutQuic(String path) throws Exception {
        Peers.requireInstalled(Peers.CHROMIUM);
        Path profile = Files.createTempDirectory(dir, "chromium");
        List<String> command = new ArrayList<>(List.of(Peers.CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--user-data-dir=" + profile, "--disable-quic",
                "--ignore-certificate-errors-spki-list=" + spki,
                "--host-resolver-rules=MAP localhost 127.0.0.1, MAP * ~NOTFOUND",
                "--dump-dom", "https://localhost:" + worker.port() + path));
        return Peers.run(command, Duration.ofSeconds(60), null, line -> { }, line -> { });
    }

    /** The worker's access-log line for {@code path} (waits, bounded, for the writer). */
    private static JsonNode accessLogLine(String path) throws Exception {
        ObjectMapper json = new ObjectMapper();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            for (String line : AccessLogIT.completeLines(dir.resolve("worker-access.log"))) {
                JsonNode node = json.readTree(line);
                if (node.get("path").asText().equals(path)) {
                    return node;
                }
            }
            assertThat(System.nanoTime()).as("a worker access-log line for %s", path).isLessThan(deadline);
            TimeUnit.MILLISECONDS.sleep(50);
        }
    }
}
