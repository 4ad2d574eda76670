package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quicfleet.proxy.ProxyConfig;
import dev.quicfleet.proxy.TrustedNetworks;
import dev.quicfleet.worker.site.SiteConfig;
import dev.quicfleet.worker.site.SiteConfigException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The config file with {@code sites}: beside the flags' keys, flags winning, and one line for what is wrong. */
class SiteConfigFileTest {

    @TempDir
    Path tmp;

    private Path file(String yaml) throws Exception {
        return Files.writeString(tmp.resolve("site.yaml"), yaml);
    }

    private static WorkerMain.Parsed parse(String... args) {
        return WorkerMain.parseAll(args, new PrintWriter(new StringWriter()));
    }

    @Test
    void serverKeysSitAbesideSitesAndFlagsWin() throws Exception {
        Path config = file("""
                compression: off
                access-log: %s/access.log
                sites:
                  - default: true
                    routes:
                      - path: /
                        respond: {body: "hi"}
                """.formatted(tmp));
        WorkerMain.Parsed parsed = parse("--config", config.toString());
        assertThat(parsed.config().compression().enabled()).isFalse();
        assertThat(parsed.config().accessLog()).isEqualTo(tmp + "/access.log");
        assertThat(parsed.sites().defaultSite().routes().getFirst().action())
                .isEqualTo(new SiteConfig.Respond(200, "hi", "text/plain; charset=utf-8"));
        assertThat(parse("--config", config.toString(), "--compression", "on").config().compression().enabled())
                .isTrue();
        assertThat(parse("--compression", "on").sites()).isNull();
    }

    @Test
    void flagRoutesAreTheStaticPrefixAndTheProxyRoot() throws Exception {
        WorkerConfig config = parse("--static-dir", tmp.toString(), "--static-prefix", "/files", "--upstream",
                "http://127.0.0.1:8080").config();
        assertThat(WorkerMain.flagRoutes(config)).isEqualTo(Set.of("/files", "/"));
        assertThat(WorkerMain.flagRoutes(parse().config())).isEmpty();
    }

    @Test
    void sitePoolsStartFromTheWorkersProxyOptionsFlagsWinningOverTheFilesKeys() throws Exception {
        Path config = file("""
                upstream-max-idle: 7
                upstream-max-5xx: 4
                sites:
                  - default: true
                    routes:
                      - path: /
                        upstream: http://127.0.0.1:8080
                      - path: /api
                        upstream: {urls: [http://127.0.0.1:8081], max-5xx: 1}
                """);
        SiteConfig sites = parse("--config", config.toString(), "--trusted-proxies", "127.0.0.1/32", "--via", "on",
                "--upstream-max-5xx", "5").sites();
        ProxyConfig plain = ((SiteConfig.Upstream) sites.defaultSite().routes().get(0).action()).proxy();
        ProxyConfig api = ((SiteConfig.Upstream) sites.defaultSite().routes().get(1).action()).proxy();
        for (ProxyConfig pool : List.of(plain, api)) {
            assertThat(pool.trustedProxies()).isEqualTo(TrustedNetworks.parse("trusted-proxies", "127.0.0.1/32"));
            assertThat(pool.via()).isTrue();
            assertThat(pool.maxIdlePerUpstream()).isEqualTo(7);
        }
        assertThat(plain.max5xx()).isEqualTo(5);
        assertThat(api.max5xx()).isEqualTo(1);
    }

    @Test
    void relativePathsResolveAgainstTheFilesDirectory() throws Exception {
        Files.createDirectories(tmp.resolve("www"));
        Path config = file("sites:\n  - {default: true, routes: [{path: /, static: www}]}\n");
        assertThat(parse("--config", config.toString()).sites().defaultSite().routes().getFirst().action())
                .isEqualTo(new SiteConfig.Static(tmp.resolve("www")));
    }

    @Test
    void malformedYamlIsOneLineWithWhere() throws Exception {
        Path unquoted = file("sites:\n  - hosts: [*.example.com]\n    routes: []\n");
        assertThatThrownBy(() -> parse("--config", unquoted.toString()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("config: " + unquoted + " line 2 column 14: while scanning an alias: unexpected character "
                        + "found .(46) (expected: YAML; quote values that start with * or contain \": \")");
        Path indented = file("sites:\n  - hosts: [a.com]\n    routes:\n      - path: /\n       respond: {}\n");
        assertThatThrownBy(() -> parse("--config", indented.toString()))
                .hasMessage("config: " + indented + " line 5 column 8: while parsing a block collection: expected "
                        + "<block end>, but found '<block mapping start>' (expected: YAML; quote values that start "
                        + "with * or contain \": \")");
        Path twice = file("sites: []\nsites: []\n");
        assertThatThrownBy(() -> parse("--config", twice.toString()))
                .hasMessage("config: " + twice + " line 2 column 6: Duplicate field 'sites' (expected: YAML; quote "
                        + "values that start with * or contain \": \")");
        Path unknown = file("site:\n  - default: true\n");
        assertThatThrownBy(() -> parse("--config", unknown.toString()))
                .hasMessageStartingWith("config: unknown key \"site\" in " + unknown + " (expected one of: ")
                .hasMessageContaining(", sites, ");
    }

    @Test
    void badSiteValueFailsWithItsKeyPath() throws Exception {
        Path config = file("sites:\n  - {default: true, routes: [{path: /, respond: {status: 7}}]}\n");
        assertThatThrownBy(() -> parse("--config", config.toString())).isInstanceOf(SiteConfigException.class)
                .hasMessage("sites[0].routes[0].respond.status: 7 (expected: a status code 200..599)");
    }

    @Test
    void configCheckPrintsOneErrorLineAndExitsTwo() throws Exception {
        Path config = file("sites:\n  - {hosts: [a.test], routes: [{path: /, app: {jar: app.jar, class: x.Y}}]}\n");
        Files.writeString(tmp.resolve("app.jar"), "");
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = ConfigCheck.run(new String[] {"--config", config.toString(), "--state-dir", tmp.toString()},
                new PrintWriter(out, true), new PrintWriter(err, true));
        assertThat(code).isEqualTo(2);
        assertThat(err.toString()).isEqualTo("error: sites[0].routes[0].app.class: x.Y is not in "
                + tmp.resolve("app.jar") + " (expected: a class of the jar, by its binary name such as "
                + "com.example.Site)" + System.lineSeparator());
        Path good = file("sites:\n  - {hosts: [a.test], routes: [{path: /, redirect: {location: /x}}]}\n");
        StringWriter okOut = new StringWriter();
        StringWriter okErr = new StringWriter();
        assertThat(ConfigCheck.run(new String[] {"--config", good.toString(), "--state-dir", tmp.toString()},
                new PrintWriter(okOut, true), new PrintWriter(okErr, true))).as(okErr.toString()).isZero();
        assertThat(okOut.toString()).contains("worker: sites 1, routes 1");
    }
}
