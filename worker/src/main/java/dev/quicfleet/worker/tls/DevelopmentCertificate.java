package dev.quicfleet.worker.tls;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Date;
import java.util.List;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.util.io.pem.PemObject;
import org.bouncycastle.util.io.pem.PemWriter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The self-signed {@code localhost} certificate of a state directory: reused while it stays valid, replaced (under a
 * lock shared by all processes on the directory) when it is missing, damaged or about to expire.
 */
final class DevelopmentCertificate {

    static final String CERT_FILE = "dev-cert.pem";
    static final String KEY_FILE = "dev-key.pem";
    static final String LOCK_FILE = "dev-cert.lock";

    static final Duration VALIDITY = Duration.ofDays(365);
    /** Replaced this long before it expires, so it never lapses during a running session. */
    static final Duration RENEW_BEFORE = Duration.ofDays(7);
    /** Valid from a little in the past, so clients whose clocks lag behind ours accept it at once. */
    static final Duration BACKDATE = Duration.ofHours(1);

    private static final Logger LOG = LoggerFactory.getLogger(DevelopmentCertificate.class);

    private static final Set<PosixFilePermission> DIR_MODE = PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> KEY_MODE = PosixFilePermissions.fromString("rw-------");
    private static final Set<PosixFilePermission> CERT_MODE = PosixFilePermissions.fromString("rw-r--r--");

    /**
     * File locks belong to the whole process: a second thread of the same JVM asking for one gets an
     * OverlappingFileLockException instead of waiting. Threads of one process take turns on this lock first.
     */
    private static final ReentrantLock THIS_PROCESS = new ReentrantLock();

    private DevelopmentCertificate() {
    }

    static TlsMaterial obtain(Path stateDir, Clock clock) throws TlsConfigException {
        createStateDir(stateDir);
        Path lockFile = stateDir.resolve(LOCK_FILE);
        THIS_PROCESS.lock();
        // The lock file stays behind on purpose; the lock itself dies with the process that holds it.
        try (FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            channel.lock(); // released when the channel closes
            return reuseOrGenerate(stateDir, clock);
        } catch (IOException e) {
            throw new TlsConfigException("cannot lock " + lockFile + ": " + why(e) + " (expected: a state directory"
                    + " the server's user can write)", e);
        } finally {
            THIS_PROCESS.unlock();
        }
    }

    /** Runs under the lock: no other worker reads or writes the pair meanwhile. */
    private static TlsMaterial reuseOrGenerate(Path stateDir, Clock clock) throws TlsConfigException {
        Path certFile = stateDir.resolve(CERT_FILE);
        Path keyFile = stateDir.resolve(KEY_FILE);
        Instant now = clock.instant();
        String reason;
        if (Files.notExists(certFile) || Files.notExists(keyFile)) {
            reason = "there is none yet";
        } else {
            try {
                TlsMaterial existing = TlsMaterial.read(certFile, keyFile, true);
                Instant notBefore = existing.leaf().getNotBefore().toInstant();
                Instant notAfter = existing.leaf().getNotAfter().toInstant();
                if (now.isBefore(notBefore)) {
                    reason = "the existing one is not valid before " + notBefore + " (now "
                            + now.truncatedTo(ChronoUnit.SECONDS) + ")";
                } else if (!notAfter.isAfter(now.plus(RENEW_BEFORE))) {
                    reason = "the existing one " + (now.isAfter(notAfter) ? "expired" : "expires") + " on " + notAfter
                            + " (renewed " + RENEW_BEFORE.toDays() + " days ahead)";
                } else {
                    if (LOG.isDebugEnabled()) {
                        LOG.debug("Reusing the development certificate {}: {}", certFile, existing.describe());
                    }
                    return existing;
                }
            } catch (TlsConfigException e) {
                reason = e.getMessage();
            }
        }
        LOG.info("Generating a development certificate in {}: {}", stateDir, reason);
        KeyPair keyPair = newKeyPair(stateDir);
        X509Certificate certificate = selfSign(keyPair, now, stateDir);
        try {
            writeAtomically(keyFile, pem("PRIVATE KEY", keyPair.getPrivate().getEncoded()), KEY_MODE);
            writeAtomically(certFile, pem("CERTIFICATE", certificate.getEncoded()), CERT_MODE);
        } catch (IOException | GeneralSecurityException e) {
            throw new TlsConfigException("cannot write the development certificate to " + stateDir + ": " + why(e)
                    + " (expected: a state directory the server's user can write)", e);
        }
        return new TlsMaterial(keyPair.getPrivate(), List.of(certificate), certFile, keyFile, true);
    }

    private static KeyPair newKeyPair(Path stateDir) throws TlsConfigException {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
            generator.initialize(new ECGenParameterSpec("secp256r1"));
            return generator.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new TlsConfigException("cannot generate an EC P-256 key for the development certificate in "
                    + stateDir + ": " + e + " (expected: a JDK with the SunEC provider)", e);
        }
    }

    private static X509Certificate selfSign(KeyPair keyPair, Instant now, Path stateDir) throws TlsConfigException {
        Instant start = now.truncatedTo(ChronoUnit.SECONDS); // X.509 times have whole seconds
        X500Name subject = new X500Name("CN=localhost");
        BigInteger serial = new BigInteger(127, new SecureRandom()).add(BigInteger.ONE); // positive, under 20 bytes
        try {
            X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(subject, serial,
                    Date.from(start.minus(BACKDATE)), Date.from(start.plus(VALIDITY)), subject, keyPair.getPublic())
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature))
                    .addExtension(Extension.extendedKeyUsage, false,
                            new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth))
                    .addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
                            new GeneralName(GeneralName.dNSName, "localhost"),
                            new GeneralName(GeneralName.iPAddress, "127.0.0.1"),
                            new GeneralName(GeneralName.iPAddress, "::1")}));
            return new JcaX509CertificateConverter().getCertificate(
                    builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(keyPair.getPrivate())));
        } catch (IOException | OperatorCreationException | GeneralSecurityException e) {
            throw new TlsConfigException("cannot sign the development certificate for " + stateDir + ": " + e
                    + " (expected: a JDK with the SunEC provider)", e);
        }
    }

    private static void createStateDir(Path stateDir) throws TlsConfigException {
        try {
            if (isPosix(stateDir)) {
                Files.createDirectories(stateDir, PosixFilePermissions.asFileAttribute(DIR_MODE));
            } else {
                Files.createDirectories(stateDir);
            }
        } catch (FileAlreadyExistsException e) {
            throw new TlsConfigException("state directory " + stateDir + " is not a directory (expected: a"
                    + " directory, or a path where one can be created)", e);
        } catch (IOException e) {
            throw new TlsConfigException("cannot create state directory " + stateDir + ": " + why(e)
                    + " (expected: a path the server's user can create)", e);
        }
    }

    /**
     * Replaces {@code target} by a rename, so readers see the old content or the new, never a part. Not synced to
     * disk: a pair a crash damages fails to load at the next start and is replaced then.
     */
    private static void writeAtomically(Path target, String content, Set<PosixFilePermission> mode)
            throws IOException {
        Path temp = Files.createTempFile(target.getParent(), target.getFileName() + ".", ".tmp"); // mode 0600
        try {
            Files.writeString(temp, content, StandardCharsets.US_ASCII);
            if (isPosix(temp)) {
                Files.setPosixFilePermissions(temp, mode);
            }
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            try {
                Files.deleteIfExists(temp);
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    private static String pem(String type, byte[] der) {
        StringWriter out = new StringWriter();
        try (PemWriter writer = new PemWriter(out)) {
            writer.writeObject(new PemObject(type, der));
        } catch (IOException e) {
            throw new UncheckedIOException("a StringWriter does not fail", e);
        }
        return out.toString();
    }

    /** What went wrong, for I/O without the exception's class name: "permission denied on ...", "Not a directory". */
    private static String why(Exception e) {
        if (e instanceof AccessDeniedException denied) {
            return "permission denied on " + denied.getFile();
        }
        if (e instanceof FileSystemException failed && failed.getReason() != null) {
            return failed.getReason();
        }
        return e instanceof IOException && e.getMessage() != null ? e.getMessage() : e.toString();
    }

    private static boolean isPosix(Path path) {
        return path.getFileSystem().supportedFileAttributeViews().contains("posix");
    }
}
