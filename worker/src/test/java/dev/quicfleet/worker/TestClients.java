package dev.quicfleet.worker;

import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
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

    /**
     * A TLS socket speaking HTTP/1.1 to {@code port} on loopback over {@code plain} (not yet connected), trusting
     * {@code certPem}, with a receive buffer of {@code receiveBuffer} bytes unless 0 and a 10 s read timeout.
     */
    static SSLSocket http1Socket(Socket plain, int port, Path certPem, int receiveBuffer) throws Exception {
        if (receiveBuffer > 0) {
            plain.setReceiveBufferSize(receiveBuffer);
        }
        plain.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 5_000);
        SSLSocket socket = (SSLSocket) trusting(certPem).getSocketFactory().createSocket(plain, "localhost", port,
                true);
        SSLParameters params = socket.getSSLParameters();
        params.setApplicationProtocols(new String[] {"http/1.1"});
        socket.setSSLParameters(params);
        socket.setSoTimeout(10_000);
        socket.startHandshake();
        return socket;
    }
}
