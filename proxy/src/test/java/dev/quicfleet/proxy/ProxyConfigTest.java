package dev.quicfleet.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.handler.ssl.SslContext;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProxyConfigTest {

    @Test
    void defaultsAreNginxAndCaddyLike() {
        ProxyConfig config = ProxyConfig.builder("http://127.0.0.1:8080").build();
        assertThat(config.upstreams()).containsExactly(URI.create("http://127.0.0.1:8080"));
        assertThat(config.balance()).isEqualTo(ProxyConfig.Balance.ROUND_ROBIN);
        assertThat(config.connectTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(config.responseTimeout()).isEqualTo(Duration.ofSeconds(60));
        assertThat(config.idleTimeout()).isEqualTo(Duration.ofSeconds(60));
        assertThat(config.maxFails()).isEqualTo(3);
        assertThat(config.failBackoff()).isEqualTo(Duration.ofSeconds(10));
    }

    @Test
    void upstreamsAreNormalized() {
        assertThat(ProxyConfig.parseUpstream(" HTTP://LocalHost:8080/ ")).isEqualTo(URI.create("http://localhost:8080"));
        assertThat(ProxyConfig.parseUpstream("http://[::1]:8080")).isEqualTo(URI.create("http://[::1]:8080"));
        assertThat(ProxyConfig.parseUpstream("H2C://127.0.0.1:50051")).isEqualTo(URI.create("h2c://127.0.0.1:50051"));
        assertThat(ProxyConfig.parseUpstream("https://localhost:8443/"))
                .isEqualTo(URI.create("https://localhost:8443"));
    }

    @Test
    void aBadUpstreamCaFileIsOneClearError(@TempDir Path tmp) throws Exception {
        Path missing = tmp.resolve("missing.pem");
        assertThatThrownBy(() -> ProxyConfig.builder("https://127.0.0.1:8443").upstreamCa(missing).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("upstream-ca: " + missing + " (no such file; expected: a PEM file with the CA certificates "
                        + "that signed the upstreams' certificates)");
        Path garbage = Files.writeString(tmp.resolve("garbage.pem"), "-----BEGIN CERTIFICATE-----\nnot base64!\n"
                + "-----END CERTIFICATE-----\n");
        assertThatThrownBy(() -> ProxyConfig.builder("https://127.0.0.1:8443").upstreamCa(garbage).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("upstream-ca: " + garbage + " (not a certificate file: ")
                .hasMessageEndingWith("; expected: a PEM file with the CA certificates that signed the upstreams' "
                        + "certificates)");
        Path empty = Files.writeString(tmp.resolve("empty.pem"), "");
        assertThatThrownBy(() -> ProxyConfig.builder("https://127.0.0.1:8443").upstreamCa(empty).build())
                .hasMessageContaining("(no certificate in it;");
        assertThatThrownBy(() -> ProxyConfig.builder("https://127.0.0.1:8443").upstreamServerName("a:1").build())
                .hasMessage("upstream-server-name: a:1 (expected: a host name such as api.internal)");
    }

    private static final String CERT_EXPECTED = "; expected: a PEM file with the client certificate, then its "
            + "intermediates)";
    private static final String KEY_EXPECTED = "; expected: a PEM file with the client certificate's private key, "
            + "unencrypted PKCS#8 (-----BEGIN PRIVATE KEY-----), EC or RSA)";

    private static ProxyConfig withClientCertificate(Path cert, Path key) {
        return ProxyConfig.builder("https://127.0.0.1:8443").upstreamClientCertificate(cert, key).build();
    }

    @Test
    void aClientCertificateIsAPemChainAndItsPkcs8KeyEcOrRsa(@TempDir Path tmp) throws Exception {
        KeyPair caKeys = TestPki.ec();
        X509Certificate ca = TestPki.ca(caKeys, "test ca");
        KeyPair intermediateKeys = TestPki.ec();
        X509Certificate intermediate = TestPki.issue(ca, caKeys.getPrivate(), intermediateKeys, "intermediate", true);
        for (KeyPair keys : new KeyPair[] {TestPki.ec(), TestPki.rsa()}) {
            String type = keys.getPrivate().getAlgorithm();
            X509Certificate client = TestPki.issue(intermediate, intermediateKeys.getPrivate(), keys, "proxy " + type,
                    false);
            Path cert = TestPki.writePem(tmp.resolve(type + ".pem"), client, intermediate);
            Path key = TestPki.writePkcs8(tmp.resolve(type + "-key.pem"), keys.getPrivate());
            ProxyConfig config = withClientCertificate(cert, key);
            assertThat(config.upstreamClientCert()).isEqualTo(cert);
            assertThat(config.upstreamClientKey()).isEqualTo(key);
            UpstreamClientCertificate read = UpstreamClientCertificate.read(cert, key);
            assertThat(read.chain()).containsExactly(client, intermediate);
            assertThat(read.key().getAlgorithm()).isEqualTo(type);
            SslContext context = UpstreamTls.context(config);
            assertThat(context.isClient()).isTrue();
        }
        assertThat(ProxyConfig.builder("https://127.0.0.1:8443").build().upstreamClientCert()).isNull();
    }

    @Test
    void aClientCertificateWithoutItsKeyOrTheReverseIsOneClearError(@TempDir Path tmp) {
        Path cert = tmp.resolve("client.pem");
        Path key = tmp.resolve("client-key.pem");
        assertThatThrownBy(() -> ProxyConfig.builder("https://127.0.0.1:8443").upstreamClientCertificate(cert, null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("upstream-client-key: missing (upstream-client-cert is " + cert + "; expected: both "
                        + "upstream-client-cert and upstream-client-key, or neither)");
        assertThatThrownBy(() -> ProxyConfig.builder("https://127.0.0.1:8443").upstreamClientCertificate(null, key))
                .hasMessage("upstream-client-cert: missing (upstream-client-key is " + key + "; expected: both "
                        + "upstream-client-cert and upstream-client-key, or neither)");
    }

    @Test
    void aBadClientCertificateFileIsOneClearError(@TempDir Path tmp) throws Exception {
        KeyPair keys = TestPki.ec();
        X509Certificate client = TestPki.ca(keys, "proxy");
        Path key = TestPki.writePkcs8(tmp.resolve("key.pem"), keys.getPrivate());
        Path missing = tmp.resolve("missing.pem");
        assertThatThrownBy(() -> withClientCertificate(missing, key))
                .hasMessage("upstream-client-cert: " + missing + " (no such file" + CERT_EXPECTED);
        assertThatThrownBy(() -> withClientCertificate(tmp, key))
                .hasMessage("upstream-client-cert: " + tmp + " (a directory" + CERT_EXPECTED);
        Path text = Files.writeString(tmp.resolve("text.pem"), "hello\n");
        assertThatThrownBy(() -> withClientCertificate(text, key))
                .hasMessage("upstream-client-cert: " + text + " (not PEM: no -----BEGIN CERTIFICATE----- block"
                        + CERT_EXPECTED);
        Path der = Files.write(tmp.resolve("client.der"), client.getEncoded());
        assertThatThrownBy(() -> withClientCertificate(der, key))
                .hasMessage("upstream-client-cert: " + der + " (DER, not PEM: convert it with `openssl x509 -inform "
                        + "der -in " + der + " -out client.pem`" + CERT_EXPECTED);
        Path garbage = Files.writeString(tmp.resolve("garbage.pem"), "-----BEGIN CERTIFICATE-----\nnot base64!\n"
                + "-----END CERTIFICATE-----\n");
        assertThatThrownBy(() -> withClientCertificate(garbage, key))
                .hasMessageStartingWith("upstream-client-cert: " + garbage + " (certificate 1 is not a certificate "
                        + "the JDK can read: ")
                .hasMessageEndingWith(CERT_EXPECTED);
        assertThatThrownBy(() -> withClientCertificate(key, key))
                .hasMessage("upstream-client-cert: " + key + " (a private key but no certificate: swapped with "
                        + "upstream-client-key?" + CERT_EXPECTED);
    }

    @Test
    void aBadClientKeyFileIsOneClearError(@TempDir Path tmp) throws Exception {
        KeyPair ecKeys = TestPki.ec();
        Path cert = TestPki.writePem(tmp.resolve("ec.pem"), TestPki.ca(ecKeys, "proxy"));
        Path missing = tmp.resolve("missing-key.pem");
        assertThatThrownBy(() -> withClientCertificate(cert, missing))
                .hasMessage("upstream-client-key: " + missing + " (no such file" + KEY_EXPECTED);
        Path text = Files.writeString(tmp.resolve("text.pem"), "hello\n");
        assertThatThrownBy(() -> withClientCertificate(cert, text))
                .hasMessage("upstream-client-key: " + text + " (not PEM: no -----BEGIN PRIVATE KEY----- block"
                        + KEY_EXPECTED);
        assertThatThrownBy(() -> withClientCertificate(cert, cert))
                .hasMessage("upstream-client-key: " + cert + " (a certificate but no private key: swapped with "
                        + "upstream-client-cert?" + KEY_EXPECTED);
        String convert = " -out client-key.pem`";
        Path encrypted = TestPki.writeEncryptedPkcs8(tmp.resolve("encrypted.pem"), ecKeys.getPrivate());
        assertThatThrownBy(() -> withClientCertificate(cert, encrypted))
                .hasMessage("upstream-client-key: " + encrypted + " (encrypted: a key with a passphrase is not "
                        + "supported; decrypt it with `openssl pkcs8 -topk8 -nocrypt -in " + encrypted + convert
                        + " and keep it readable only by the server's user" + KEY_EXPECTED);
        Path traditional = TestPki.writeEncryptedTraditional(tmp.resolve("traditional.pem"), ecKeys.getPrivate());
        assertThatThrownBy(() -> withClientCertificate(cert, traditional))
                .hasMessageStartingWith("upstream-client-key: " + traditional + " (encrypted: a key with a "
                        + "passphrase is not supported; decrypt and convert it with `openssl pkcs8");
        Path sec1 = TestPki.writePem(tmp.resolve("sec1.pem"), ecKeys.getPrivate());
        assertThatThrownBy(() -> withClientCertificate(cert, sec1))
                .hasMessage("upstream-client-key: " + sec1 + " (SEC1 (-----BEGIN EC PRIVATE KEY-----), not PKCS#8: "
                        + "convert it with `openssl pkcs8 -topk8 -nocrypt -in " + sec1 + convert + KEY_EXPECTED);
        KeyPair rsaKeys = TestPki.rsa();
        Path rsaCert = TestPki.writePem(tmp.resolve("rsa.pem"), TestPki.ca(rsaKeys, "proxy rsa"));
        Path pkcs1 = TestPki.writePem(tmp.resolve("pkcs1.pem"), rsaKeys.getPrivate());
        assertThatThrownBy(() -> withClientCertificate(rsaCert, pkcs1))
                .hasMessage("upstream-client-key: " + pkcs1 + " (PKCS#1 (-----BEGIN RSA PRIVATE KEY-----), not "
                        + "PKCS#8: convert it with `openssl pkcs8 -topk8 -nocrypt -in " + pkcs1 + convert
                        + KEY_EXPECTED);
        Path ed25519 = TestPki.writePkcs8(tmp.resolve("ed25519.pem"), TestPki.ed25519().getPrivate());
        assertThatThrownBy(() -> withClientCertificate(cert, ed25519))
                .hasMessage("upstream-client-key: " + ed25519 + " (a key of type Ed25519" + KEY_EXPECTED);
    }

    @Test
    void aKeyOfAnotherCertificateIsNamedWithBothFiles(@TempDir Path tmp) throws Exception {
        KeyPair caKeys = TestPki.ec();
        X509Certificate ca = TestPki.ca(caKeys, "test ca");
        KeyPair keys = TestPki.ec();
        X509Certificate client = TestPki.issue(ca, caKeys.getPrivate(), keys, "proxy", false);
        Path cert = TestPki.writePem(tmp.resolve("client.pem"), client);
        Path other = TestPki.writePkcs8(tmp.resolve("other-key.pem"), TestPki.ec().getPrivate());
        assertThatThrownBy(() -> withClientCertificate(cert, other))
                .hasMessage("upstream-client-key: " + other + " (does not belong to the certificate CN=proxy in "
                        + cert + "; expected: the private key the client certificate was issued for)");
        Path rsa = TestPki.writePkcs8(tmp.resolve("rsa-key.pem"), TestPki.rsa().getPrivate());
        assertThatThrownBy(() -> withClientCertificate(cert, rsa))
                .hasMessageStartingWith("upstream-client-key: " + rsa + " (does not belong to the certificate");
        // the CA first, the client certificate second: the key is found, in the wrong place
        Path reversed = TestPki.writePem(tmp.resolve("reversed.pem"), ca, client);
        Path key = TestPki.writePkcs8(tmp.resolve("key.pem"), keys.getPrivate());
        assertThatThrownBy(() -> withClientCertificate(reversed, key))
                .hasMessage("upstream-client-cert: " + reversed + " (the key in " + key + " belongs to certificate 2 "
                        + "of 2, CN=proxy, not to the first" + CERT_EXPECTED);
    }

    @Test
    void badUpstreamsNameTheValueAndWhatIsExpected() {
        assertThatThrownBy(() -> ProxyConfig.parseUpstream("ws://127.0.0.1:8443"))
                .hasMessage("upstream: ws://127.0.0.1:8443 (scheme ws is not supported; expected: http://HOST:PORT, "
                        + "h2c://HOST:PORT or https://HOST:PORT such as http://127.0.0.1:8080)");
        assertThatThrownBy(() -> ProxyConfig.parseUpstream("http://127.0.0.1")).hasMessageContaining("(no port;");
        assertThatThrownBy(() -> ProxyConfig.parseUpstream("localhost:8080")).hasMessageContaining("(no scheme://host:port;");
        assertThatThrownBy(() -> ProxyConfig.parseUpstream("http://u@127.0.0.1:1")).hasMessageContaining("user info");
        assertThatThrownBy(() -> ProxyConfig.parseUpstream("http://127.0.0.1:1/api?x"))
                .hasMessageContaining("path, query or fragment");
        assertThatThrownBy(() -> ProxyConfig.builder().build())
                .hasMessage("upstream: none given (expected: at least one http://HOST:PORT)");
    }

    @Test
    void outOfRangeValuesNameTheKey() {
        assertThatThrownBy(() -> ProxyConfig.builder("http://127.0.0.1:1").idleTimeout(Duration.ZERO).build())
                .hasMessage("upstream-idle-timeout: 0s (expected: 10ms..24h)");
        assertThatThrownBy(() -> ProxyConfig.builder("http://127.0.0.1:1").passiveHealth(0, Duration.ofSeconds(1))
                .build()).hasMessage("upstream-max-fails: 0 (expected: 1..1000)");
        assertThatThrownBy(() -> ProxyConfig.Balance.parse("random"))
                .hasMessage("upstream-balance: random (expected: round-robin or least-requests)");
    }
}
