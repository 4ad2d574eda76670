package dev.quicfleet.proxy;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolConfig.Protocol;
import io.netty.handler.ssl.ApplicationProtocolConfig.SelectedListenerFailureBehavior;
import io.netty.handler.ssl.ApplicationProtocolConfig.SelectorFailureBehavior;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.NetUtil;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;

/**
 * TLS toward {@code https://} upstreams: ALPN offers {@code h2} then {@code http/1.1}; the upstream's certificate is
 * verified against the JDK's trust store (or the CA file of {@link ProxyConfig#upstreamCa()}) and must name the
 * upstream's host (or {@link ProxyConfig#upstreamServerName()}), which is also the SNI. With
 * {@link ProxyConfig#upstreamClientCert()} the proxy presents that certificate to upstreams that ask for one.
 */
final class UpstreamTls {

    private UpstreamTls() {
    }

    /** The client context for every {@code https://} upstream of {@code config}. */
    static SslContext context(ProxyConfig config) {
        SslContextBuilder builder = SslContextBuilder.forClient()
                .sslProvider(SslProvider.JDK)
                .protocols("TLSv1.3", "TLSv1.2")
                .endpointIdentificationAlgorithm("HTTPS")
                .applicationProtocolConfig(new ApplicationProtocolConfig(Protocol.ALPN,
                        SelectorFailureBehavior.NO_ADVERTISE, SelectedListenerFailureBehavior.ACCEPT,
                        ApplicationProtocolNames.HTTP_2, ApplicationProtocolNames.HTTP_1_1));
        if (config.upstreamCa() != null) {
            builder.trustManager(readCertificates(config.upstreamCa()));
        }
        if (config.upstreamClientCert() != null) {
            // Sent only when an upstream asks (a CertificateRequest), and only when an issuer in this chain is among
            // the CAs the request names, if it names any: the JDK's key manager (SunX509) picks by them.
            UpstreamClientCertificate client = UpstreamClientCertificate.read(config.upstreamClientCert(),
                    config.upstreamClientKey());
            builder.keyManager(client.key(), client.chain());
        }
        try {
            return builder.build();
        } catch (SSLException e) {
            boolean client = config.upstreamClientCert() != null;
            throw new IllegalArgumentException((client ? UpstreamClientCertificate.CERT_KEY : "upstream-ca")
                    + ": cannot build the upstream TLS context: " + e.getMessage() + " (expected: "
                    + (client ? UpstreamClientCertificate.CERT_EXPECTED : "a PEM file of CA certificates") + ")", e);
        }
    }

    /** A handler for one connection to {@code upstream}: SNI and the verified name as configured. */
    static SslHandler handler(SslContext context, ProxyConfig config, Upstream upstream, ByteBufAllocator alloc) {
        String name = config.upstreamServerName() != null ? config.upstreamServerName() : upstream.uri.getHost();
        SslHandler handler = context.newHandler(alloc, name, upstream.uri.getPort());
        SSLParameters parameters = handler.engine().getSSLParameters();
        parameters.setEndpointIdentificationAlgorithm("HTTPS");
        if (!NetUtil.isValidIpV4Address(name) && !NetUtil.isValidIpV6Address(name)) {
            // The JDK sends SNI only for names with a dot: "localhost" or "backend" would go without.
            parameters.setServerNames(List.of(new SNIHostName(name)));
        }
        handler.engine().setSSLParameters(parameters);
        handler.setHandshakeTimeoutMillis(config.connectTimeout().toMillis());
        return handler;
    }

    /**
     * The certificates in a PEM (or DER) file.
     *
     * @throws IllegalArgumentException naming the key {@code upstream-ca}, the file and what is expected
     */
    static X509Certificate[] readCertificates(Path file) {
        Collection<? extends Certificate> certificates;
        try (InputStream in = Files.newInputStream(file)) {
            certificates = CertificateFactory.getInstance("X.509").generateCertificates(in);
        } catch (NoSuchFileException e) {
            throw badCa(file, "no such file");
        } catch (IOException e) {
            throw badCa(file, "cannot read it: " + e.getMessage());
        } catch (CertificateException e) {
            throw badCa(file, "not a certificate file: " + e.getMessage());
        }
        if (certificates.isEmpty()) {
            throw badCa(file, "no certificate in it");
        }
        return certificates.stream().map(X509Certificate.class::cast).toArray(X509Certificate[]::new);
    }

    private static IllegalArgumentException badCa(Path file, String problem) {
        return new IllegalArgumentException("upstream-ca: " + file + " (" + problem
                + "; expected: a PEM file with the CA certificates that signed the upstreams' certificates)");
    }
}
