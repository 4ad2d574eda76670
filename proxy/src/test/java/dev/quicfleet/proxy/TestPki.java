package dev.quicfleet.proxy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.concurrent.atomic.AtomicLong;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.PKCS8Generator;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8EncryptorBuilder;
import org.bouncycastle.openssl.jcajce.JcePEMEncryptorBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.util.io.pem.PemObject;

/** Keys, a CA and client certificates made at test time, written as the PEM files an operator would pass. */
final class TestPki {

    /** Only to encrypt keys, passed explicitly; never registered. */
    private static final Provider BC = new BouncyCastleProvider();
    private static final AtomicLong SERIALS = new AtomicLong(1);

    private TestPki() {
    }

    static KeyPair ec() {
        return generate("EC", new ECGenParameterSpec("secp256r1"));
    }

    static KeyPair rsa() {
        return generate("RSA", null);
    }

    static KeyPair ed25519() {
        return generate("Ed25519", null);
    }

    private static KeyPair generate(String algorithm, ECGenParameterSpec curve) {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance(algorithm);
            if (curve != null) {
                generator.initialize(curve);
            } else if (algorithm.equals("RSA")) {
                generator.initialize(2048);
            }
            return generator.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A CA certificate for {@code keys}, {@code CN=cn}, self-signed. */
    static X509Certificate ca(KeyPair keys, String cn) {
        return issue(keys, "CN=" + cn, "CN=" + cn, keys.getPrivate(), true);
    }

    /** A certificate for {@code keys}, {@code CN=cn}, signed by {@code issuer} with {@code issuerKey}. */
    static X509Certificate issue(X509Certificate issuer, PrivateKey issuerKey, KeyPair keys, String cn, boolean ca) {
        return issue(keys, "CN=" + cn, issuer.getSubjectX500Principal().getName(), issuerKey, ca);
    }

    private static X509Certificate issue(KeyPair keys, String subject, String issuer, PrivateKey issuerKey,
                                         boolean ca) {
        try {
            Instant now = Instant.now();
            JcaX509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(new X500Name(issuer),
                    BigInteger.valueOf(SERIALS.getAndIncrement()), Date.from(now.minus(Duration.ofHours(1))),
                    Date.from(now.plus(Duration.ofDays(1))), new X500Name(subject), keys.getPublic());
            builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(ca));
            String algorithm = issuerKey.getAlgorithm().equals("RSA") ? "SHA256withRSA" : "SHA256withECDSA";
            return new JcaX509CertificateConverter().getCertificate(
                    builder.build(new JcaContentSignerBuilder(algorithm).build(issuerKey)));
        } catch (Exception e) {
            throw new IllegalStateException("cannot issue a test certificate for " + subject, e);
        }
    }

    /** {@code -----BEGIN PRIVATE KEY-----} (unencrypted PKCS#8). */
    static Path writePkcs8(Path file, PrivateKey key) {
        return writePem(file, new PemObject("PRIVATE KEY", key.getEncoded()));
    }

    /** {@code -----BEGIN ENCRYPTED PRIVATE KEY-----} (PKCS#8, AES-256-CBC), as {@code openssl pkcs8 -topk8} writes. */
    static Path writeEncryptedPkcs8(Path file, PrivateKey key) {
        try {
            return writePem(file, new JcaPKCS8Generator(key, new JceOpenSSLPKCS8EncryptorBuilder(
                    PKCS8Generator.AES_256_CBC).setProvider(BC).setPassword("secret".toCharArray()).build()));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** A traditional key with {@code Proc-Type: 4,ENCRYPTED}, as {@code openssl genrsa -aes256} wrote. */
    static Path writeEncryptedTraditional(Path file, PrivateKey key) {
        try (Writer out = Files.newBufferedWriter(file, StandardCharsets.US_ASCII);
             JcaPEMWriter writer = new JcaPEMWriter(out)) {
            writer.writeObject(key, new JcePEMEncryptorBuilder("AES-256-CBC").setProvider(BC)
                    .build("secret".toCharArray()));
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Each object as PEM, one after the other: certificates, {@link PemObject}s, or JDK keys (an RSA key as
     * {@code RSA PRIVATE KEY}, PKCS#1, and an EC key as {@code EC PRIVATE KEY}, SEC1: BouncyCastle's traditional
     * forms).
     */
    static Path writePem(Path file, Object... objects) {
        try (Writer out = Files.newBufferedWriter(file, StandardCharsets.US_ASCII);
             JcaPEMWriter writer = new JcaPEMWriter(out)) {
            for (Object object : objects) {
                writer.writeObject(object);
            }
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
