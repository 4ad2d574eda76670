package dev.quicfleet.client;

import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/** Builds the client's trust: the JDK's trust store plus extra PEM certificates, or nothing checked at all. */
final class TrustConfig {

    private TrustConfig() {
    }

    /** Accepts any certificate for any name ({@code -k}). */
    static TrustManagerFactory insecure() {
        return InsecureTrustManagerFactory.INSTANCE;
    }

    /** The JDK's default trust anchors plus every certificate in the PEM files {@code extra}. */
    static TrustManagerFactory of(List<Path> extra) throws H3Exception {
        try {
            KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
            store.load(null, null);
            int n = 0;
            TrustManagerFactory jdk = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            jdk.init((KeyStore) null);
            for (TrustManager tm : jdk.getTrustManagers()) {
                if (tm instanceof X509TrustManager x509) {
                    for (X509Certificate ca : x509.getAcceptedIssuers()) {
                        store.setCertificateEntry("jdk-" + n++, ca);
                    }
                }
            }
            for (Path pem : extra) {
                for (X509Certificate cert : readPem(pem)) {
                    store.setCertificateEntry("extra-" + n++, cert);
                }
            }
            TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            factory.init(store);
            return factory;
        } catch (GeneralSecurityException | IOException e) {
            throw new H3TlsException("cannot build the trust store: " + e.getMessage(), e);
        }
    }

    /** The factory's X.509 trust manager (the JDK's is always the extended kind, which checks host names). */
    static javax.net.ssl.X509ExtendedTrustManager extended(TrustManagerFactory factory) throws H3TlsException {
        for (TrustManager tm : factory.getTrustManagers()) {
            if (tm instanceof javax.net.ssl.X509ExtendedTrustManager x) {
                return x;
            }
        }
        throw new H3TlsException("no X.509 trust manager in " + factory.getAlgorithm());
    }

    /** A short reason a server certificate was refused, for a one-line message. */
    static String explain(java.security.cert.CertificateException e, String host) {
        String m = String.valueOf(e.getMessage());
        if (m.contains("PKIX path building failed") || m.contains("unable to find valid certification path")) {
            return "unknown issuer: self-signed, or signed by a CA that is not trusted";
        }
        if (m.contains("No subject alternative") || m.contains("No name matching")) {
            return "it is not valid for the name " + host;
        }
        if (m.contains("NotAfter") || m.contains("expired")) {
            return "expired";
        }
        if (m.contains("NotBefore") || m.contains("not yet valid")) {
            return "not yet valid";
        }
        return m;
    }

    static List<X509Certificate> readPem(Path pem) throws H3TlsException {
        try (InputStream in = Files.newInputStream(pem)) {
            Collection<? extends Certificate> certs = CertificateFactory.getInstance("X.509").generateCertificates(in);
            List<X509Certificate> out = new ArrayList<>();
            for (Certificate c : certs) {
                out.add((X509Certificate) c);
            }
            if (out.isEmpty()) {
                throw new H3TlsException("CA file " + pem + ": no PEM certificate in it");
            }
            return out;
        } catch (NoSuchFileException e) {
            throw new H3TlsException("CA file " + pem + ": no such file", e);
        } catch (IOException | GeneralSecurityException e) {
            throw new H3TlsException("CA file " + pem + ": not a PEM certificate (" + e.getMessage() + ")", e);
        }
    }
}
