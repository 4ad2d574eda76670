package dev.quicfleet.worker.tls;

import io.netty.util.NetUtil;
import java.io.IOException;
import java.io.StringReader;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.Key;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECKey;
import java.security.interfaces.EdECKey;
import java.security.interfaces.RSAKey;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.ASN1Encoding;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.nist.NISTNamedCurves;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.asn1.x9.ECNamedCurveTable;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509CertificateHolder;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMException;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;
import org.bouncycastle.util.encoders.DecoderException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The TLS identity every listener of a worker presents, on QUIC and on TCP: a private key and its certificate chain,
 * leaf first.
 *
 * <p>{@link #load} reads operator-supplied PEM files and checks them before any listener opens: both files readable,
 * the key belongs to the leaf certificate, the leaf valid now. A bad configuration thus fails at start with one line
 * saying what to fix ({@link TlsConfigException}), not later as a handshake failure in somebody's browser.
 * {@link #developmentCertificate} provides a self-signed certificate for {@code localhost} when none is configured.
 *
 * <p>BouncyCastle only parses the PEM text; the keys and certificates themselves are made by the JDK's providers,
 * and BouncyCastle is never registered as a JCA provider.
 */
public final class TlsMaterial {

    private static final Logger LOG = LoggerFactory.getLogger(TlsMaterial.class);

    /** What {@link #checkKeyMatches} signs; any bytes do, possession of the key is what is proven. */
    private static final byte[] KEY_CHECK_MESSAGE = "quicfleet: does this key belong to the certificate?"
            .getBytes(StandardCharsets.US_ASCII);

    private final PrivateKey privateKey;
    private final List<X509Certificate> chain;
    private final Path certFile;
    private final Path keyFile;
    private final boolean generated;
    private final String spkiSha256Base64;

    TlsMaterial(PrivateKey privateKey, List<X509Certificate> chain, Path certFile, Path keyFile, boolean generated) {
        this.privateKey = Objects.requireNonNull(privateKey, "privateKey");
        this.chain = List.copyOf(chain);
        this.certFile = Objects.requireNonNull(certFile, "certFile");
        this.keyFile = Objects.requireNonNull(keyFile, "keyFile");
        this.generated = generated;
        this.spkiSha256Base64 = spkiSha256Base64(this.chain.getFirst());
    }

    /**
     * Loads and checks a PEM certificate chain (leaf first) and its PEM private key.
     *
     * <p>The key may be PKCS#8 ({@code BEGIN PRIVATE KEY}), PKCS#1 ({@code BEGIN RSA PRIVATE KEY}) or SEC1
     * ({@code BEGIN EC PRIVATE KEY}, optionally after {@code BEGIN EC PARAMETERS}), of type EC, RSA or Ed25519, and
     * must not be encrypted. Text outside the PEM blocks is ignored, and so are other blocks (a key in the certificate
     * file, certificates in the key file), so one combined file may be passed as both.
     *
     * @param certPem the certificate chain: the leaf first, then the intermediates it was issued by
     * @param keyPem  the leaf certificate's private key
     * @param clock   tells the time the leaf certificate must be valid at
     * @throws TlsConfigException when a file is missing or unreadable, holds no certificate or no key, the key is
     *                            encrypted or does not belong to the leaf, or the leaf is expired or not yet valid
     */
    public static TlsMaterial load(Path certPem, Path keyPem, Clock clock) throws TlsConfigException {
        TlsMaterial material = read(certPem, keyPem, false);
        material.checkValidAt(clock.instant());
        return material;
    }

    /**
     * The self-signed development certificate in {@code stateDir} ({@code dev-cert.pem}, {@code dev-key.pem}): reused
     * when valid, else generated.
     *
     * <p>It is an EC P-256 certificate for {@code CN=localhost} with the subject alternative names {@code localhost},
     * {@code 127.0.0.1} and {@code ::1}, valid for 365 days. It is reused while it stays valid for more than 7 more
     * days, so the browser exception (or {@code --ignore-certificate-errors-spki-list} entry, see
     * {@link #spkiSha256Base64()}) a developer made for it keeps working across restarts; a missing, damaged,
     * mismatched or expiring pair is replaced, and the reason logged at INFO.
     *
     * <p>Safe when several workers start at once on the same directory: they take turns through a file lock on
     * {@code stateDir/dev-cert.lock}, so exactly one generates and the others reuse its certificate; files are
     * replaced atomically, so a reader never sees half a file. {@code stateDir} is created (mode 0700) if missing; the
     * key file is written with mode 0600 and the certificate with 0644.
     *
     * @param stateDir the worker's state directory
     * @param clock    tells the time validity is checked against and a new certificate's validity starts from
     * @throws TlsConfigException when {@code stateDir} cannot be created, locked or written
     */
    public static TlsMaterial developmentCertificate(Path stateDir, Clock clock) throws TlsConfigException {
        return DevelopmentCertificate.obtain(stateDir, clock);
    }

    /** The private key of the leaf certificate. */
    public PrivateKey privateKey() {
        return privateKey;
    }

    /** The certificate chain as sent to clients: the leaf first, then its issuers. Never empty; unmodifiable. */
    public List<X509Certificate> chain() {
        return chain;
    }

    /** The leaf (end-entity) certificate, the first of {@link #chain()}. */
    public X509Certificate leaf() {
        return chain.getFirst();
    }

    /** The PEM file the chain was read from (or, for the development certificate, written to). */
    public Path certFile() {
        return certFile;
    }

    /** The PEM file the private key was read from (or, for the development certificate, written to). */
    public Path keyFile() {
        return keyFile;
    }

    /** Whether this is the self-signed development certificate rather than one the operator configured. */
    public boolean generated() {
        return generated;
    }

    /**
     * The base64-encoded SHA-256 hash of the leaf certificate's SubjectPublicKeyInfo, as Chromium takes it:
     * {@code chromium --origin-to-force-quic-on=localhost:4433 --ignore-certificate-errors-spki-list=<this>}.
     * The same as {@code openssl x509 -pubkey -noout -in cert.pem | openssl pkey -pubin -outform der
     * | openssl dgst -sha256 -binary | base64}.
     */
    public String spkiSha256Base64() {
        return spkiSha256Base64;
    }

    /**
     * One line for the start-up log: subject, key type, end of validity and subject alternative names, e.g.
     * {@code CN=localhost, EC P-256, valid until 2027-11-21T08:00:00Z, SAN [localhost, 127.0.0.1, ::1]}.
     */
    public String describe() {
        X509Certificate leaf = leaf();
        String subject = leaf.getSubjectX500Principal().getName();
        return (subject.isEmpty() ? "no subject" : subject) + ", " + describeKey(leaf.getPublicKey())
                + ", valid until " + leaf.getNotAfter().toInstant() + ", SAN " + subjectAltNames(leaf);
    }

    @Override
    public String toString() {
        return "TlsMaterial[" + certFile + ", " + describe() + "]";
    }

    /** Reads both files and checks that the key belongs to the leaf; validity in time is not checked. */
    static TlsMaterial read(Path certPem, Path keyPem, boolean generated) throws TlsConfigException {
        List<X509Certificate> chain = readChain(certPem);
        PrivateKey key = readKey(keyPem);
        checkKeyMatches(key, chain, certPem, keyPem);
        return new TlsMaterial(key, chain, certPem, keyPem, generated);
    }

    private void checkValidAt(Instant now) throws TlsConfigException {
        Instant shownNow = now.truncatedTo(ChronoUnit.SECONDS);
        X509Certificate leaf = leaf();
        Instant notBefore = leaf.getNotBefore().toInstant();
        Instant notAfter = leaf.getNotAfter().toInstant();
        if (now.isAfter(notAfter)) {
            throw new TlsConfigException("certificate " + certFile + " expired on " + notAfter
                    + " (now " + shownNow + "); renew it");
        }
        if (now.isBefore(notBefore)) {
            throw new TlsConfigException("certificate " + certFile + " is not valid before " + notBefore
                    + " (now " + shownNow + "); check the system clock, or wait until then");
        }
        // Intermediates only warn: chains in the wild carry expired cross-signs that clients skip over.
        for (int i = 1; i < chain.size(); i++) {
            X509Certificate issuer = chain.get(i);
            if (now.isAfter(issuer.getNotAfter().toInstant()) || now.isBefore(issuer.getNotBefore().toInstant())) {
                LOG.warn("Certificate {} of {} in {} ({}) is outside its validity {} .. {}; clients that need it "
                                + "to reach a trusted root will reject the chain", i + 1, chain.size(), certFile,
                        issuer.getSubjectX500Principal().getName(), issuer.getNotBefore().toInstant(),
                        issuer.getNotAfter().toInstant());
            }
        }
    }

    private static List<X509Certificate> readChain(Path file) throws TlsConfigException {
        String pem = readFile(file, PemFile.CERTIFICATE);
        JcaX509CertificateConverter converter = new JcaX509CertificateConverter();
        List<X509Certificate> chain = new ArrayList<>();
        boolean holdsKey = false;
        try (PEMParser parser = new PEMParser(new StringReader(pem))) {
            for (Object block = parser.readObject(); block != null; block = parser.readObject()) {
                if (block instanceof X509CertificateHolder holder) {
                    chain.add(converter.getCertificate(holder));
                } else {
                    holdsKey |= isPrivateKey(block);
                }
            }
        } catch (IOException | DecoderException e) {
            throw notPem(file, PemFile.CERTIFICATE, e);
        } catch (CertificateException e) {
            throw new TlsConfigException("certificate file " + file + " holds a certificate the JDK cannot read: "
                    + e.getMessage() + " (expected: X.509 certificates)", e);
        }
        if (!chain.isEmpty()) {
            return chain;
        }
        if (holdsKey) {
            throw new TlsConfigException("certificate file " + file
                    + " holds a private key but no certificate (swapped --cert and --key?)");
        }
        throw nothingFound(file, PemFile.CERTIFICATE, pem, "openssl x509 -inform der -in " + file + " -out cert.pem");
    }

    private static PrivateKey readKey(Path file) throws TlsConfigException {
        String pem = readFile(file, PemFile.KEY);
        Object keyBlock = null;
        boolean holdsCertificate = false;
        try (PEMParser parser = new PEMParser(new StringReader(pem))) {
            Object block;
            while ((block = parser.readObject()) != null) {
                if (isPrivateKey(block)) {
                    keyBlock = block;
                    break;
                }
                // EC PARAMETERS before a SEC1 key, certificates of a combined file: skipped.
                holdsCertificate |= block instanceof X509CertificateHolder;
            }
        } catch (IOException | DecoderException e) {
            throw notPem(file, PemFile.KEY, e);
        }
        if (keyBlock == null) {
            if (holdsCertificate) {
                throw new TlsConfigException("private key file " + file
                        + " holds a certificate but no private key (swapped --cert and --key?)");
            }
            throw nothingFound(file, PemFile.KEY, pem, "openssl pkey -inform der -in " + file + " -out key.pem");
        }
        if (keyBlock instanceof PEMEncryptedKeyPair || keyBlock instanceof PKCS8EncryptedPrivateKeyInfo) {
            throw new TlsConfigException("private key file " + file + " is encrypted, and encrypted keys are not"
                    + " supported; decrypt it with `openssl pkey -in " + file + " -out key-plain.pem`, keep"
                    + " key-plain.pem readable only by the server's user and pass --key key-plain.pem");
        }
        PrivateKey key;
        try {
            // PKCS#1 and SEC1 come as a key pair; only the private half is used, as SEC1 may omit the public one.
            key = new JcaPEMKeyConverter().getPrivateKey(keyBlock instanceof PEMKeyPair pair
                    ? pair.getPrivateKeyInfo()
                    : (PrivateKeyInfo) keyBlock);
        } catch (PEMException e) {
            throw new TlsConfigException("private key file " + file + " holds a key the JDK cannot read: "
                    + e.getMessage() + " (expected: an EC key on P-256, P-384 or P-521, an RSA key or an Ed25519 key)",
                    e);
        }
        if (signatureAlgorithm(key) == null) {
            throw new TlsConfigException("private key file " + file + " holds a " + describeKey(key)
                    + " key (expected: EC, RSA or Ed25519)");
        }
        return key;
    }

    private static boolean isPrivateKey(Object block) {
        return block instanceof PrivateKeyInfo || block instanceof PEMKeyPair
                || block instanceof PKCS8EncryptedPrivateKeyInfo || block instanceof PEMEncryptedKeyPair;
    }

    /** Proves that {@code key} belongs to the leaf: what it signs, the leaf's public key verifies. */
    private static void checkKeyMatches(PrivateKey key, List<X509Certificate> chain, Path certFile, Path keyFile)
            throws TlsConfigException {
        String algorithm = signatureAlgorithm(key);
        byte[] signature;
        try {
            Signature signer = Signature.getInstance(algorithm);
            signer.initSign(key);
            signer.update(KEY_CHECK_MESSAGE);
            signature = signer.sign();
        } catch (GeneralSecurityException e) {
            throw new TlsConfigException("private key file " + keyFile + " holds a " + describeKey(key)
                    + " key that cannot sign: " + e.getMessage() + " (expected: a usable EC, RSA or Ed25519 key)", e);
        }
        X509Certificate leaf = chain.getFirst();
        if (verifies(leaf.getPublicKey(), algorithm, signature)) {
            return;
        }
        for (int i = 1; i < chain.size(); i++) {
            if (verifies(chain.get(i).getPublicKey(), algorithm, signature)) {
                throw new TlsConfigException("certificate file " + certFile + " is out of order: the key in "
                        + keyFile + " belongs to certificate " + (i + 1) + " of " + chain.size() + " ("
                        + chain.get(i).getSubjectX500Principal().getName() + "); put the leaf certificate first");
            }
        }
        throw new TlsConfigException("private key file " + keyFile + " (" + describeKey(key)
                + ") does not match certificate " + certFile + " (" + leaf.getSubjectX500Principal().getName() + ", "
                + describeKey(leaf.getPublicKey()) + "); pass the key the certificate was issued for");
    }

    private static boolean verifies(PublicKey publicKey, String algorithm, byte[] signature) {
        try {
            Signature verifier = Signature.getInstance(algorithm);
            verifier.initVerify(publicKey);
            verifier.update(KEY_CHECK_MESSAGE);
            return verifier.verify(signature);
        } catch (GeneralSecurityException e) {
            return false; // a public key of another type or curve: not this key's
        }
    }

    /** The signature algorithm that proves possession of {@code key}; {@code null} for types a worker cannot serve. */
    private static String signatureAlgorithm(PrivateKey key) {
        if (key instanceof EdECKey edKey) {
            return edKey.getParams().getName().equals("Ed25519") ? "Ed25519" : null;
        }
        return switch (key.getAlgorithm()) {
            case "EC" -> "SHA256withECDSA";
            case "RSA" -> "SHA256withRSA";
            default -> null; // DSA, RSASSA-PSS, ...
        };
    }

    /** {@code EC P-256}, {@code RSA 2048}, {@code Ed25519}, ... */
    private static String describeKey(Key key) {
        if (key instanceof RSAKey rsaKey) {
            return key.getAlgorithm() + " " + rsaKey.getModulus().bitLength();
        }
        if (key instanceof EdECKey edKey) {
            return edKey.getParams().getName();
        }
        if (key instanceof ECKey) {
            ASN1Encodable parameters = key instanceof PublicKey
                    ? SubjectPublicKeyInfo.getInstance(key.getEncoded()).getAlgorithm().getParameters()
                    : PrivateKeyInfo.getInstance(key.getEncoded()).getPrivateKeyAlgorithm().getParameters();
            return "EC " + curveName(parameters);
        }
        return key.getAlgorithm();
    }

    private static String curveName(ASN1Encodable parameters) {
        if (!(parameters instanceof ASN1ObjectIdentifier oid)) {
            return "explicit curve";
        }
        String name = NISTNamedCurves.getName(oid);
        if (name == null) {
            name = ECNamedCurveTable.getName(oid);
        }
        return name != null ? name : oid.getId();
    }

    /** DNS names and IP addresses (IPv6 in its short form, {@code ::1}); other kinds of name as the JDK shows them. */
    private static String subjectAltNames(X509Certificate leaf) {
        Collection<List<?>> names;
        try {
            names = leaf.getSubjectAlternativeNames();
        } catch (CertificateParsingException e) {
            return "unreadable (" + e.getMessage() + ")";
        }
        List<String> shown = new ArrayList<>();
        if (names != null) {
            for (List<?> name : names) {
                int type = (Integer) name.get(0);
                Object value = name.get(1);
                if (type == 7 && value instanceof String ip) {
                    InetAddress address = NetUtil.createInetAddressFromIpAddressString(ip);
                    shown.add(address != null ? NetUtil.toAddressString(address) : ip);
                } else {
                    shown.add(String.valueOf(value));
                }
            }
        }
        return shown.toString();
    }

    private static String spkiSha256Base64(X509Certificate leaf) {
        // The SubjectPublicKeyInfo exactly as the certificate carries it, not as the JDK would re-encode the key.
        try {
            byte[] spki = new JcaX509CertificateHolder(leaf).getSubjectPublicKeyInfo().getEncoded(ASN1Encoding.DER);
            return Base64.getEncoder().encodeToString(MessageDigest.getInstance("SHA-256").digest(spki));
        } catch (CertificateEncodingException | IOException | NoSuchAlgorithmException e) {
            throw new IllegalStateException("leaf certificate " + leaf.getSubjectX500Principal().getName()
                    + ": cannot encode its public key (expected: a certificate parsed from DER)", e);
        }
    }

    private static String readFile(Path file, PemFile kind) throws TlsConfigException {
        if (Files.isDirectory(file)) {
            throw new TlsConfigException(kind.label + " " + file + " is a directory (pass " + kind.flag + " with "
                    + kind.expected + ")");
        }
        try {
            // Latin-1 maps every byte to a char, so a DER file arrives intact enough to be recognised.
            return Files.readString(file, StandardCharsets.ISO_8859_1);
        } catch (NoSuchFileException e) {
            throw new TlsConfigException(kind.label + " not found: " + file + " (pass " + kind.flag + " with "
                    + kind.expected + ", or omit --cert and --key to use the generated development certificate)", e);
        } catch (AccessDeniedException e) {
            throw new TlsConfigException(kind.label + " " + file
                    + " is not readable: permission denied (let the user the server runs as read it)", e);
        } catch (IOException e) {
            throw new TlsConfigException("cannot read " + kind.label + " " + file + ": " + e.getMessage()
                    + " (pass " + kind.flag + " with " + kind.expected + ")", e);
        }
    }

    private static TlsConfigException notPem(Path file, PemFile kind, Exception e) {
        return new TlsConfigException(kind.label + " " + file + " is not valid PEM: " + e.getMessage()
                + " (expected: " + kind.expected + ")", e);
    }

    private static TlsConfigException nothingFound(Path file, PemFile kind, String content, String derConversion) {
        // DER starts with an ASN.1 SEQUENCE tag; PEM would have a BEGIN line.
        if (!content.isEmpty() && content.charAt(0) == 0x30 && !content.contains("-----BEGIN")) {
            return new TlsConfigException(kind.label + " " + file + " looks DER-encoded (expected: "
                    + kind.expected + "); convert it with `" + derConversion + "`");
        }
        return new TlsConfigException(kind.label + " " + file + " holds no " + kind.block + " block (expected: "
                + kind.expected + ")");
    }

    /** The two files {@link #load} reads, and how messages name them. */
    private enum PemFile {
        CERTIFICATE("certificate file", "--cert", "a PEM certificate chain, leaf first", "-----BEGIN CERTIFICATE-----"),
        KEY("private key file", "--key", "the certificate's PEM private key", "-----BEGIN ... PRIVATE KEY-----");

        final String label;
        final String flag;
        final String expected;
        final String block;

        PemFile(String label, String flag, String expected, String block) {
            this.label = label;
            this.flag = flag;
            this.expected = expected;
            this.block = block;
        }
    }
}
