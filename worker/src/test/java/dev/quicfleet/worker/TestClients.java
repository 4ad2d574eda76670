package dev.quicfleet.worker;

import java.io.InputStream;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/** JDK clients that trust a worker's development certificate. */
final class TestClients {

    private TestClients() {
    }

    /** An SSL context trusting exactly the certificate in {@code certPem}. */
    static SSLContext trusting(Path certPem) throws Exception {
        X509Certificate cert;
        try (InputStream in = Files.newInputStream(certPem)) {
            cert = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        trust.setCertificateEntry("worker", cert);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext ssl = SSLContext.getInstance("TLS");
        ssl.init(null, tmf.getTrustManagers(), null);
        return ssl;
    }

    /** A JDK HttpClient speaking {@code version} (HTTP/2 or HTTP/1.1) over TLS to a worker with this state dir. */
    static HttpClient http(Path stateDir, HttpClient.Version version) throws Exception {
        return HttpClient.newBuilder()
                .version(version)
                .sslContext(trusting(stateDir.resolve("dev-cert.pem")))
                .connectTimeout(Duration.ofSeconds(10))
                .build();
    }
}
