package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Mutual TLS toward an upstream: Debian's nginx with a TLS listener that requires a client certificate issued by the
 * test CA ({@code ssl_verify_client on}) and logs what it verified. Two worker processes: one configured by the flags
 * ({@code --upstream-ca}, {@code --upstream-client-cert}, {@code --upstream-client-key}), one by a site file whose
 * pools carry their own {@code ca}, {@code server-name}, {@code client-cert} and {@code client-key} keys, relative to
 * the file (no {@code --upstream-*} flag: what works there works by the pool's keys alone). Client: curl over HTTP/2.
 */
class MutualTlsUpstreamIT {

    private static final String LOG_FORMAT = "$request_uri|verify=$ssl_client_verify|dn=$ssl_client_s_dn"
            + "|status=$status";

    private static Path dir;
    private static Nginx nginx;
    private static WorkerProcess flags;
    private static WorkerProcess sites;

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("quicfleet-mtls-");
        Path pki = Files.createDirectories(dir.resolve("pki"));
        Instant now = Instant.now();
        Instant notBefore = now.minus(Duration.ofHours(1));
        Instant notAfter = now.plus(Duration.ofDays(1));
        KeyPair caKeys = TestCertificates.ecP256();
        X509Certificate ca = TestCertificates.ca(caKeys, "quicfleet test ca", notBefore, notAfter);
        TestCertificates.writeCertificates(pki.resolve("ca.pem"), ca);
        issue(pki, "upstream", ca, caKeys.getPrivate(), TestCertificates.ecP256(), "localhost");
        issue(pki, "proxy", ca, caKeys.getPrivate(), TestCertificates.ecP256(), "quicfleet proxy");
        issue(pki, "site", ca, caKeys.getPrivate(), TestCertificates.rsa2048(), "site pool");
        // the same kind of certificate, from a CA nginx does not name
        KeyPair strangerCaKeys = TestCertificates.ecP256();
        X509Certificate strangerCa = TestCertificates.ca(strangerCaKeys, "stranger ca", notBefore, notAfter);
        issue(pki, "stranger", strangerCa, strangerCaKeys.getPrivate(), TestCertificates.ecP256(), "stranger");

        int tlsPort;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            tlsPort = probe.getLocalPort();
        }
        nginx = Nginx.start(Files.createDirectories(dir.resolve("nginx")), LOG_FORMAT, """
                listen 127.0.0.1:%1$d ssl;
                ssl_protocols TLSv1.2 TLSv1.3; # nginx 1.22's default stops at TLSv1.2
                ssl_certificate %2$s/upstream.pem;
                ssl_certificate_key %2$s/upstream-key.pem;
                ssl_verify_client on;
                ssl_client_certificate %2$s/ca.pem;
                location = /hello { return 200 "hello $ssl_client_s_dn\\n"; }
                """.formatted(tlsPort, pki));
        String upstream = "https://127.0.0.1:" + tlsPort;

        flags = WorkerProcess.start(Files.createDirectories(dir.resolve("flags")), "--upstream", upstream,
                "--upstream-ca", pki.resolve("ca.pem").toString(), "--upstream-server-name", "localhost",
                "--upstream-client-cert", pki.resolve("proxy.pem").toString(),
                "--upstream-client-key", pki.resolve("proxy-key.pem").toString());
        Path config = Files.writeString(dir.resolve("site.yaml"), """
                sites:
                  - hosts: [site.test]
                    routes:
                      - path: /
                        upstream:
                          urls: [%1$s]
                          ca: pki/ca.pem
                          server-name: localhost
                          client-cert: pki/site.pem
                          client-key: pki/site-key.pem
                  - hosts: [nocert.test]
                    routes:
                      - path: /
                        upstream: {urls: [%1$s], ca: pki/ca.pem, server-name: localhost}
                  - hosts: [stranger.test]
                    routes:
                      - path: /
                        upstream:
                          urls: [%1$s]
                          ca: pki/ca.pem
                          server-name: localhost
                          client-cert: pki/stranger.pem
                          client-key: pki/stranger-key.pem
                """.formatted(upstream));
        sites = WorkerProcess.start(Files.createDirectories(dir.resolve("sites")), "--config", config.toString());
    }

    /** {@code NAME.pem}, the certificate {@code CN=cn} that {@code issuer} issued, and {@code NAME-key.pem}. */
    private static void issue(Path pki, String name, X509Certificate issuer, PrivateKey issuerKey, KeyPair keys,
                              String cn) {
        Instant now = Instant.now();
        X509Certificate certificate = TestCertificates.issuedBy(issuer, issuerKey, keys, cn,
                now.minus(Duration.ofHours(1)), now.plus(Duration.ofDays(1)));
        TestCertificates.writeCertificates(pki.resolve(name + ".pem"), certificate);
        TestCertificates.writePkcs8(pki.resolve(name + "-key.pem"), keys.getPrivate());
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            for (WorkerProcess worker : new WorkerProcess[] {flags, sites}) {
                if (worker != null) {
                    worker.close();
                }
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
    void theFlagsClientCertificateIsVerifiedByTheUpstream() throws Exception {
        assertThat(curl(flags, "localhost", "/hello?flags")).isEqualTo("200 hello CN=quicfleet proxy\n");
        assertThat(nginx.awaitAccessLine("/hello?flags"))
                .isEqualTo("/hello?flags|verify=SUCCESS|dn=CN=quicfleet proxy|status=200");
    }

    @Test
    void aSitePoolsCaAndClientCertificateKeysReachARealTlsUpstream() throws Exception {
        // an RSA key, beside the file, and the pool's own ca: the site worker has no --upstream-* flag
        assertThat(curl(sites, "site.test", "/hello?site")).isEqualTo("200 hello CN=site pool\n");
        assertThat(nginx.awaitAccessLine("/hello?site"))
                .isEqualTo("/hello?site|verify=SUCCESS|dn=CN=site pool|status=200");
    }

    @Test
    void withoutAClientCertificateNginxAnswers400AndTheProxyPassesItOn() throws Exception {
        // The TLS handshake succeeds: with ssl_verify_client on, OpenSSL asks for a certificate but nginx does not
        // make it fail the handshake when none comes; nginx then answers the request itself with 400 "No required
        // SSL certificate was sent". For the proxy that is an ordinary response, passed on as it is.
        String response = curl(sites, "nocert.test", "/hello?nocert");
        assertThat(response).startsWith("400 ").contains("No required SSL certificate was sent");
        assertThat(nginx.awaitAccessLine("/hello?nocert")).isEqualTo("/hello?nocert|verify=NONE|dn=-|status=400");
    }

    @Test
    void aCertificateFromACaTheUpstreamDoesNotNameIsNotSent() throws Exception {
        // nginx's CertificateRequest names the CAs of ssl_client_certificate; the JDK's key manager offers only a
        // certificate that one of them issued, so this one stays home and nginx sees none: the same 400 as without
        // a certificate (not a verification failure, which nginx would log as FAILED:...).
        String response = curl(sites, "stranger.test", "/hello?stranger");
        assertThat(response).startsWith("400 ").contains("No required SSL certificate was sent");
        assertThat(nginx.awaitAccessLine("/hello?stranger"))
                .isEqualTo("/hello?stranger|verify=NONE|dn=-|status=400");
    }

    /** {@code STATUS BODY} of a GET over HTTP/2 through {@code worker} for {@code host}{@code path}. */
    private static String curl(WorkerProcess worker, String host, String path) throws Exception {
        int port = worker.port();
        List<String> command = List.of("curl", "-sSk", "--http2", "--max-time", "20", "--resolve",
                host + ":" + port + ":127.0.0.1", "-w", "\\n%{http_code}", "https://" + host + ":" + port + path);
        Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).as("curl %s", command).isZero();
        int cut = out.lastIndexOf('\n');
        return out.substring(cut + 1) + " " + out.substring(0, cut);
    }
}
