package dev.quicfleet.worker;

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
import java.security.interfaces.ECPrivateKey;
import java.security.spec.ECGenParameterSpec;
import java.time.Instant;
import java.util.Date;
import java.util.concurrent.atomic.AtomicLong;
import org.bouncycastle.asn1.sec.SECObjectIdentifiers;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.cert.X509v3CertificateBuilder;
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

/**
 * Keys and certificates made at test time, and the PEM files an operator would hand to {@link TlsMaterial#load}.
 */
public final class TestCertificates {

    /** Only to encrypt keys, passed explicitly; never registered, as production code never registers it either. */
    private static final Provider BC = new BouncyCastleProvider();
    private static final AtomicLong SERIALS = new AtomicLong(1);

    private TestCertificates() {
    }

    public static KeyPair ecP256() {
        return keyPair("EC", new ECGenParameterSpec("secp256r1"));
    }

    public static KeyPair rsa2048() {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
            generator.initialize(2048);
            return generator.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    public static KeyPair ed25519() {
        return keyPair("Ed25519", null);
    }

    private static KeyPair keyPair(String algorithm, ECGenParameterSpec curve) {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance(algorithm);
            if (curve != null) {
                generator.initialize(curve);
            }
            return generator.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A self-signed server certificate for {@code localhost}. */
    public static X509Certificate selfSigned(KeyPair keyPair, String cn, Instant notBefore, Instant notAfter) {
        return issue(keyPair, cn, notBefore, notAfter, "CN=" + cn, keyPair.getPrivate(), false);
    }

    /** A certificate authority that can issue with {@link #issuedBy}. */
    public static X509Certificate ca(KeyPair keyPair, String cn, Instant notBefore, Instant notAfter) {
        return issue(keyPair, cn, notBefore, notAfter, "CN=" + cn, keyPair.getPrivate(), true);
    }

    /** A server certificate for {@code localhost} signed by {@code issuer}. */
    public static X509Certificate issuedBy(X509Certificate issuer, PrivateKey issuerKey, KeyPair keyPair, String cn,
                                    Instant notBefore, Instant notAfter) {
        return issue(keyPair, cn, notBefore, notAfter, issuer.getSubjectX500Principal().getName(), issuerKey, false);
    }

    private static X509Certificate issue(KeyPair keyPair, String cn, Instant notBefore, Instant notAfter,
                                         String issuer, PrivateKey issuerKey, boolean ca) {
        try {
            X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(new X500Name(issuer),
                    BigInteger.valueOf(SERIALS.getAndIncrement()), Date.from(notBefore), Date.from(notAfter),
                    new X500Name("CN=" + cn), keyPair.getPublic())
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(ca));
            if (!ca) {
                builder.addExtension(Extension.subjectAlternativeName, false,
                        new GeneralNames(new GeneralName(GeneralName.dNSName, "localhost")));
            }
            String algorithm = switch (issuerKey.getAlgorithm()) {
                case "EC" -> "SHA256withECDSA";
                case "RSA" -> "SHA256withRSA";
                default -> "Ed25519";
            };
            return new JcaX509CertificateConverter().getCertificate(
                    builder.build(new JcaContentSignerBuilder(algorithm).build(issuerKey)));
        } catch (Exception e) {
            throw new IllegalStateException("cannot issue a test certificate for CN=" + cn, e);
        }
    }

    /** {@code -----BEGIN CERTIFICATE-----} blocks in the given order. */
    public static Path writeCertificates(Path file, X509Certificate... certificates) {
        return writePem(file, (Object[]) certificates);
    }

    /** {@code -----BEGIN PRIVATE KEY-----}. */
    public static Path writePkcs8(Path file, PrivateKey key) {
        return writePem(file, new PemObject("PRIVATE KEY", key.getEncoded()));
    }

    /** {@code -----BEGIN RSA PRIVATE KEY-----} (PKCS#1), as {@code openssl genrsa -traditional} writes it. */
    public static Path writePkcs1(Path file, PrivateKey rsaKey) {
        return writePem(file, rsaKey);
    }

    /** {@code -----BEGIN EC PRIVATE KEY-----} (SEC1) with curve and public key, as {@code openssl ec} writes it. */
    public static Path writeSec1(Path file, KeyPair ecKeys) {
        return writePem(file, sec1(ecKeys, true));
    }

    /** SEC1 without the optional public key, as {@code openssl ec -no_public} writes it. */
    public static Path writeSec1WithoutPublicKey(Path file, KeyPair ecKeys) {
        return writePem(file, sec1(ecKeys, false));
    }

    /** What {@code openssl ecparam -name prime256v1 -genkey} writes: the curve, then the SEC1 key. */
    public static Path writeSec1WithParameters(Path file, KeyPair ecKeys) {
        try {
            return writePem(file, new PemObject("EC PARAMETERS", SECObjectIdentifiers.secp256r1.getEncoded()),
                    sec1(ecKeys, true));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static PemObject sec1(KeyPair ecKeys, boolean withPublicKey) {
        // Built by hand: the JDK's PKCS#8 encoding, which writers convert from, leaves out curve and public key.
        SubjectPublicKeyInfo publicKey = SubjectPublicKeyInfo.getInstance(ecKeys.getPublic().getEncoded());
        ECPrivateKey privateKey = (ECPrivateKey) ecKeys.getPrivate();
        int orderBits = privateKey.getParams().getOrder().bitLength();
        try {
            org.bouncycastle.asn1.sec.ECPrivateKey sec1 = withPublicKey
                    ? new org.bouncycastle.asn1.sec.ECPrivateKey(orderBits, privateKey.getS(),
                    publicKey.getPublicKeyData(), publicKey.getAlgorithm().getParameters())
                    : new org.bouncycastle.asn1.sec.ECPrivateKey(orderBits, privateKey.getS(),
                    publicKey.getAlgorithm().getParameters());
            return new PemObject("EC PRIVATE KEY", sec1.getEncoded());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code -----BEGIN ENCRYPTED PRIVATE KEY-----} (PKCS#8, AES-256-CBC). */
    public static Path writeEncryptedPkcs8(Path file, PrivateKey key) {
        try {
            return writePem(file, new JcaPKCS8Generator(key, new JceOpenSSLPKCS8EncryptorBuilder(
                    PKCS8Generator.AES_256_CBC).setProvider(BC).setPassword("secret".toCharArray()).build()));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** A traditional key with {@code Proc-Type: 4,ENCRYPTED} headers, as {@code openssl genrsa -aes256} wrote. */
    public static Path writeEncryptedTraditional(Path file, PrivateKey key) {
        try (Writer out = Files.newBufferedWriter(file, StandardCharsets.US_ASCII);
             JcaPEMWriter writer = new JcaPEMWriter(out)) {
            writer.writeObject(key, new JcePEMEncryptorBuilder("AES-256-CBC").setProvider(BC)
                    .build("secret".toCharArray()));
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Each object as PEM, one after the other: certificates, keys (PKCS#8 or PKCS#1) or {@link PemObject}s. */
    public static Path writePem(Path file, Object... objects) {
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
