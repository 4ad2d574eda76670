package dev.quicfleet.worker.tls;

import static dev.quicfleet.worker.TestCertificates.ca;
import static dev.quicfleet.worker.TestCertificates.ecP256;
import static dev.quicfleet.worker.TestCertificates.issuedBy;
import static dev.quicfleet.worker.TestCertificates.rsa2048;
import static dev.quicfleet.worker.TestCertificates.selfSigned;
import static dev.quicfleet.worker.TestCertificates.writeCertificates;
import static dev.quicfleet.worker.TestCertificates.writePem;
import static dev.quicfleet.worker.TestCertificates.writePkcs1;
import static dev.quicfleet.worker.TestCertificates.writePkcs8;
import static dev.quicfleet.worker.TestCertificates.writeSec1;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.quicfleet.worker.TestCertificates;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.handler.codec.quic.InsecureQuicTokenHandler;
import io.netty.handler.codec.quic.QuicChannel;
import io.netty.handler.codec.quic.QuicClientCodecBuilder;
import io.netty.handler.codec.quic.QuicServerCodecBuilder;
import io.netty.handler.codec.quic.QuicSslContext;
import io.netty.handler.codec.quic.QuicSslContextBuilder;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.EdECPrivateKey;
import java.security.interfaces.RSAPrivateKey;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.LoggerFactory;

class TlsMaterialTest {

    private static final Instant NOW = Instant.parse("2026-03-01T12:00:00Z");
    private static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);
    private static final Instant VALID_FROM = Instant.parse("2026-01-01T00:00:00Z");
    private static final Instant VALID_UNTIL = Instant.parse("2027-01-01T00:00:00Z");

    private static KeyPair ec;
    private static KeyPair otherEc;
    private static KeyPair rsa;

    @TempDir
    Path dir;

    private Path certFile;
    private Path keyFile;
    private Path stateDir;
    private final ListAppender<ILoggingEvent> log = new ListAppender<>();

    @BeforeAll
    static void generateKeys() {
        ec = ecP256();
        otherEc = ecP256();
        rsa = rsa2048();
    }

    @BeforeEach
    void setUp() {
        certFile = dir.resolve("cert.pem");
        keyFile = dir.resolve("key.pem");
        stateDir = dir.resolve("state");
        log.start();
        logger(TlsMaterial.class).addAppender(log);
        logger(DevelopmentCertificate.class).addAppender(log);
    }

    @AfterEach
    void detachLog() {
        logger(TlsMaterial.class).detachAppender(log);
        logger(DevelopmentCertificate.class).detachAppender(log);
    }

    // --- key formats and types ---

    @Test
    void loadsEcKeyInPkcs8Format() throws Exception {
        writeCertificates(certFile, selfSigned(ec, "localhost", VALID_FROM, VALID_UNTIL));
        writePkcs8(keyFile, ec.getPrivate());
        assertThat(Files.readString(keyFile)).startsWith("-----BEGIN PRIVATE KEY-----");

        TlsMaterial material = TlsMaterial.load(certFile, keyFile, CLOCK);

        assertHoldsPrivateKeyOf(material, ec);
        assertThat(material.chain()).hasSize(1);
        assertThat(material.leaf().getSubjectX500Principal().getName()).isEqualTo("CN=localhost");
        assertThat(material.certFile()).isEqualTo(certFile);
        assertThat(material.keyFile()).isEqualTo(keyFile);
        assertThat(material.generated()).isFalse();
    }

    @Test
    void loadsEcKeyInSec1Format() throws Exception {
        writeCertificates(certFile, selfSigned(ec, "localhost", VALID_FROM, VALID_UNTIL));
        writeSec1(keyFile, ec);
        assertThat(Files.readString(keyFile)).startsWith("-----BEGIN EC PRIVATE KEY-----");

        assertHoldsPrivateKeyOf(TlsMaterial.load(certFile, keyFile, CLOCK), ec);
    }

    @Test
    void loadsEcKeyInSec1FormatWithoutPublicKey() throws Exception {
        writeCertificates(certFile, selfSigned(ec, "localhost", VALID_FROM, VALID_UNTIL));
        TestCertificates.writeSec1WithoutPublicKey(keyFile, ec);

        assertHoldsPrivateKeyOf(TlsMaterial.load(certFile, keyFile, CLOCK), ec);
    }

    @Test
    void loadsEcKeyInSec1FormatAfterEcParameters() throws Exception {
        writeCertificates(certFile, selfSigned(ec, "localhost", VALID_FROM, VALID_UNTIL));
        TestCertificates.writeSec1WithParameters(keyFile, ec);
        assertThat(Files.readString(keyFile)).startsWith("-----BEGIN EC PARAMETERS-----")
                .contains("-----BEGIN EC PRIVATE KEY-----");

        assertHoldsPrivateKeyOf(TlsMaterial.load(certFile, keyFile, CLOCK), ec);
    }

    @Test
    void loadsRsaKeyInPkcs1Format() throws Exception {
        writeCertificates(certFile, selfSigned(rsa, "localhost", VALID_FROM, VALID_UNTIL));
        writePkcs1(keyFile, rsa.getPrivate());
        assertThat(Files.readString(keyFile)).startsWith("-----BEGIN RSA PRIVATE KEY-----");

        assertHoldsPrivateKeyOf(TlsMaterial.load(certFile, keyFile, CLOCK), rsa);
    }

    @Test
    void loadsRsaKeyInPkcs8Format() throws Exception {
        writeCertificates(certFile, selfSigned(rsa, "localhost", VALID_FROM, VALID_UNTIL));
        writePkcs8(keyFile, rsa.getPrivate());

        assertHoldsPrivateKeyOf(TlsMaterial.load(certFile, keyFile, CLOCK), rsa);
    }

    @Test
    void loadsEd25519Key() throws Exception {
        KeyPair ed25519 = TestCertificates.ed25519();
        writeCertificates(certFile, selfSigned(ed25519, "localhost", VALID_FROM, VALID_UNTIL));
        writePkcs8(keyFile, ed25519.getPrivate());

        TlsMaterial material = TlsMaterial.load(certFile, keyFile, CLOCK);

        assertHoldsPrivateKeyOf(material, ed25519);
        assertThat(material.describe()).contains(", Ed25519, ");
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "openssl ecparam -name prime256v1 -genkey -out key.pem", // EC PARAMETERS, then SEC1
            "openssl ecparam -name secp384r1 -genkey -noout -out key.pem", // SEC1 alone
            "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem", // PKCS#8
            "openssl genrsa -traditional -out key.pem 2048", // PKCS#1
            "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out key.pem", // PKCS#8
            "openssl genpkey -algorithm ED25519 -out key.pem"})
    void loadsKeysAndCertificatesWrittenByOpenssl(String generateKey) throws Exception {
        assumeTrue(opensslAvailable(), "openssl not on PATH");
        run("cd '" + dir + "' && " + generateKey
                + " && openssl req -x509 -new -key key.pem -subj /CN=localhost -days 30 -out cert.pem");

        TlsMaterial material = TlsMaterial.load(certFile, keyFile, Clock.systemUTC());

        assertThat(material.leaf().getSubjectX500Principal().getName()).isEqualTo("CN=localhost");
    }

    @Test
    void rejectsUnsupportedKeyType() throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("DSA");
        generator.initialize(2048);
        KeyPair dsa = generator.generateKeyPair();
        writeCertificates(certFile, selfSigned(ec, "localhost", VALID_FROM, VALID_UNTIL));
        writePkcs8(keyFile, dsa.getPrivate());

        assertThatThrownBy(() -> TlsMaterial.load(certFile, keyFile, CLOCK))
                .isInstanceOf(TlsConfigException.class)
                .hasMessage("private key file " + keyFile + " holds a DSA key (expected: EC, RSA or Ed25519)");
    }

    // --- chains ---

    @Test
    void loadsChainLeafFirstIgnoringTextAroundBlocks() throws Exception {
        KeyPair caKeys = ecP256();
        X509Certificate caCert = ca(caKeys, "Test CA", VALID_FROM, VALID_UNTIL);
        X509Certificate leaf = issuedBy(caCert, caKeys.getPrivate(), rsa, "localhost", VALID_FROM, VALID_UNTIL);
        writeCertificates(certFile, leaf, caCert);
        // As `openssl pkcs12 -nokeys` writes it: attributes before each block.
        Files.writeString(certFile, "Bag Attributes\nsubject=CN=localhost\n" + Files.readString(certFile)
                + "trailing notes\n");
        writePkcs8(keyFile, rsa.getPrivate());

        TlsMaterial material = TlsMaterial.load(certFile, keyFile, CLOCK);

        assertThat(material.chain()).containsExactly(leaf, caCert);
        assertThat(material.leaf()).isEqualTo(leaf);
    }

    @Test
    void loadsOneCombinedFileAsCertificateAndKey() throws Exception {
        Path combined = writePem(dir.resolve("combined.pem"),
                rsa.getPrivate(), selfSigned(rsa, "localhost", VALID_FROM, VALID_UNTIL));

        TlsMaterial material = TlsMaterial.load(combined, combined, CLOCK);

        assertHoldsPrivateKeyOf(material, rsa);
        assertThat(material.chain()).hasSize(1);
    }

    @Test
    void rejectsChainWithLeafNotFirst() {
        KeyPair caKeys = ecP256();
        X509Certificate caCert = ca(caKeys, "Test CA", VALID_FROM, VALID_UNTIL);
        writeCertificates(certFile, caCert, issuedBy(caCert, caKeys.getPrivate(), ec, "localhost",
                VALID_FROM, VALID_UNTIL));
        writePkcs8(keyFile, ec.getPrivate());

        assertThatThrownBy(() -> TlsMaterial.load(certFile, keyFile, CLOCK))
                .isInstanceOf(TlsConfigException.class)
                .hasMessage("certificate file " + certFile + " is out of order: the key in " + keyFile
                        + " belongs to certificate 2 of 2 (CN=localhost); put the leaf certificate first");
    }

    @Test
    void warnsAboutExpiredIntermediateButLoads() throws Exception {
        KeyPair caKeys = ecP256();
        X509Certificate expiredCa = ca(caKeys, "Old CA", Instant.parse("2016-01-01T00:00:00Z"),
                Instant.parse("2026-02-01T00:00:00Z"));
        writeCertificates(certFile, issuedBy(expiredCa, caKeys.getPrivate(), ec, "localhost",
                VALID_FROM, VALID_UNTIL), expiredCa);
        writePkcs8(keyFile, ec.getPrivate());

        assertThat(TlsMaterial.load(certFile, keyFile, CLOCK).chain()).hasSize(2);
        assertThat(log.list).anySatisfy(event -> {
            assertThat(event.getLevel()).isEqualTo(Level.WARN);
            assertThat(event.getFormattedMessage()).startsWith("Certificate 2 of 2 in " + certFile + " (CN=Old CA)"
                    + " is outside its validity 2016-01-01T00:00:00Z .. 2026-02-01T00:00:00Z");
        });
    }

    // --- unusable files ---

    @Test
    void rejectsMissingCertificateFile() {
        writePkcs8(keyFile, ec.getPrivate());

        assertThatThrownBy(() -> TlsMaterial.load(certFile, keyFile, CLOCK))
                .isInstanceOf(TlsConfigException.class)
                .hasMessage("certificate file not found: " + certFile + " (pass --cert with a PEM certificate chain,"
                        + " leaf first, or omit --cert and --key to use the generated development certificate)");
    }

    @Test
    void rejectsMissingKeyFile() {
        writeCertificates(certFile, selfSigned(ec, "localhost", VALID_FROM, VALID_UNTIL));

        assertThatThrownBy(() -> TlsMaterial.load(certFile, keyFile, CLOCK))
                .isInstanceOf(TlsConfigException.class)
                .hasMessage("private key file not found: " + keyFile + " (pass --key with the certificate's PEM"
                        + " private key, or omit --cert and --key to use the generated development certificate)");
    }

    @Test
    void rejectsUnreadableCertificateFile() throws IOException {
        // Tests may run as root, who reads any file whatever its mode; a directory is unreadable as a file for all.
        Files.createDirectory(certFile);
        writePkcs8(keyFile, ec.getPrivate());

        assertThatThrownBy(() -> TlsMaterial.load(certFile, keyFile, CLOCK))
                .isInstanceOf(TlsConfigException.class)
                .hasMessage("certificate file " + certFile + " is a directory (pass --cert with a PEM certificate"
                        + " chain, leaf first)");
    }

    @Test
    void rejectsUnreadableKeyFile() throws IOException {
        writeCertificates(certFile, selfSigned(ec, "localhost", VALID_FROM, VALID_UNTIL));
        Files.createDirectory(keyFile);

        assertThatThrownBy(() -> TlsMaterial.load(certFile, keyFile, CLOCK))
                .isInstanceOf(TlsConfigException.class)
                .hasMessage("private key file " + keyFile + " is a directory (pass --key with the certificate's"
                        + " PEM private key)");
    }

    @Test
    void rejectsCertificateFileWithoutCertificate() throws IOException {
        Files.writeString(certFile, "just some text\n");
        writePkcs8(keyFile, ec.getPrivate());

        assertThatThrownBy(() -> TlsMaterial.load(certFile, keyFile, CLOCK))
                .isInstanceOf(TlsConfigException.class)
                .hasMessage("certificate file " + certFile + " holds no -----BEGIN CERTIFICATE----- block"
                        + " (expected: a PEM certificate chain, leaf first)");
    }

    @Test
    void rejectsKeyFileWithoutKey() throws IOException {
        writeCertificates(certFile, selfSigned(ec, "localhost", VALID_FROM, VALID_UNTIL));
        Files.writeString(keyFile, "");

        assertThatThrownBy(() -> TlsMaterial.load(certFile, keyFile, CLOCK))
                .isInstanceOf(TlsConfigException.class)
                .hasMessage("private key file " + keyFile + " holds no -----BEGIN ... PRIVATE KEY----- block"
                        + " (expected: the certificate's PEM private key)");
    }

    @Test
    void pointsOutSwappedCertificateAndKey() {
        writeCertificates(keyFile, selfSigned(ec, "localhost", VALID_FROM, VALID_UNTIL));
        writePkcs8(certFile, ec.getPrivate());

        assertThatThrownBy(() -> TlsMaterial.load(certFile, keyFile, CLOCK))
                .isInstanceOf(TlsConfigException.class)
                .hasMessage("certificate file " + certFile
                        + " holds a private key but no certificate (swapped --cert and --key?)");
        assertThatThrownBy(() -> TlsMaterial.load(keyFile, keyFile, CLOCK))
                .isInstanceOf(TlsConfigException.class)
                .hasMessage("private key file " + keyFile
                        + " holds a certificate but no private key (swapped --cert and --key?)");
    }

    @Test
    void explainsHowToConvertDerCertificate() throws Exception {
        Files.write(certFile, selfSigned(ec, "localhost", VALID_FROM, VALID_UNTIL).getEncoded());
        writePkcs8(keyFile, ec.getPrivate());

        assertThatThrownBy(() -> TlsMaterial.load(certFile, keyFile, CLOCK))
                .isInstanceOf(TlsConfigException.class)
                .hasMessage("certificate file " + certFile + " looks DER-encoded (expected: a PEM certificate chain,"
                        + " leaf first); convert it with `openssl x509 -inform der -in " + certFile
                        + " -out cert.pem`");
    }

    @Test
    void rejectsTruncatedPem() throws IOException {
        writeCertificates(certFile, selfSigned(ec, "localhost", VALID_FROM, VALID_UNTIL));
        String pem = Files.readString(certFile);
        Files.writeString(certFile, pem.substring(0, pem.length() / 2));
        writePkcs8(keyFile, ec.getPrivate());

        assertThatThrownBy(() -> TlsMaterial.load(certFile, keyFile, CLOCK))
                .isInstanceOf(TlsConfigException.class)
                .hasMessageStartingWith("certificate file " + certFile + " is not valid PEM: ")
                .hasMessageEndingWith(" (expected: a PEM certificate chain, leaf first)");
    }

    @Test
    void rejectsGarbledBase64() throws IOException {
        writeCertificates(certFile, selfSigned(ec, "localhost", VALID_FROM, VALID_UNTIL));
        writeSec1(keyFile, ec);
        List<String> lines = new ArrayList<>(Files.readAllLines(keyFile));
        lines.set(1, "!!" + lines.get(1).substring(2));
        Files.write(keyFile, lines);

        assertThatThrownBy(() -> TlsMaterial.load(certFile, keyFile, CLOCK))
                .isInstanceOf(TlsConfigException.class)
                .hasMessageStartingWith("private key file " + keyFile + " is not valid PEM: ")
                .hasMessageEndingWith(" (expected: the certificate's PEM private key)");
    }

    @Test
    void rejectsEncryptedPkcs8Key() {
        writeCertificates(certFile, selfSigned(ec, "localhost", VALID_FROM, VALID_UNTIL));
        TestCertificates.writeEncryptedPkcs8(keyFile, ec.getPrivate());

        assertThatThrownBy(() -> TlsMaterial.load(certFile, keyFile, CLOCK))
                .isInstanceOf(TlsConfigException.class)
                .hasMessage("private key file " + keyFile + " is encrypted, and encrypted keys are not supported;"
                        + " decrypt it with `openssl pkey -in " + keyFile + " -out key-plain.pem`, keep"
                        + " key-plain.pem readable only by the server's user and pass --key key-plain.pem");
    }

    @Test
    void rejectsEncryptedTraditionalKey() throws IOException {
        writeCertificates(certFile, selfSigned(rsa, "localhost", VALID_FROM, VALID_UNTIL));
        TestCertificates.writeEncryptedTraditional(keyFile, rsa.getPrivate());
        assertThat(Files.readString(keyFile)).contains("Proc-Type: 4,ENCRYPTED");

        assertThatThrownBy(() -> TlsMaterial.load(certFile, keyFile, CLOCK))
                .isInstanceOf(TlsConfigException.class)
                .hasMessageStartingWith("private key file " + keyFile + " is encrypted, and encrypted keys are not"
                        + " supported; decrypt it with `openssl pkey -in " + keyFile + " -out key-plain.pem`");
    }

    // --- key and certificate do not belong together ---

    @Test
    void rejectsKeyThatDoesNotMatchCertificate() {
        writeCertificates(certFile, selfSigned(ec, "localhost", VALID_FROM, VALID_UNTIL));
        writePkcs8(keyFile, otherEc.getPrivate());

        assertThatThrownBy(() -> TlsMaterial.load(certFile, keyFile, CLOCK))
                .isInstanceOf(TlsConfigException.class)
                .hasMessage("private key file " + keyFile + " (EC P-256) does not match certificate " + certFile
                        + " (CN=localhost, EC P-256); pass the key the certificate was issued for");
    }

    @Test
    void rejectsKeyOfAnotherTypeThanCertificate() {
        writeCertificates(certFile, selfSigned(ec, "localhost", VALID_FROM, VALID_UNTIL));
        writePkcs1(keyFile, rsa.getPrivate());

        assertThatThrownBy(() -> TlsMaterial.load(certFile, keyFile, CLOCK))
                .isInstanceOf(TlsConfigException.class)
                .hasMessage("private key file " + keyFile + " (RSA 2048) does not match certificate " + certFile
                        + " (CN=localhost, EC P-256); pass the key the certificate was issued for");
    }

    // --- validity in time ---

    @Test
    void rejectsExpiredCertificate() {
        writeCertificates(certFile, selfSigned(rsa, "localhost", Instant.parse("2024-01-01T00:00:00Z"),
                Instant.parse("2025-01-01T00:00:00Z")));
        writePkcs8(keyFile, rsa.getPrivate());

        assertThatThrownBy(() -> TlsMaterial.load(certFile, keyFile, CLOCK))
                .isInstanceOf(TlsConfigException.class)
                .hasMessage("certificate " + certFile
                        + " expired on 2025-01-01T00:00:00Z (now 2026-03-01T12:00:00Z); renew it");
    }

    @Test
    void rejectsCertificateNotYetValid() {
        writeCertificates(certFile, selfSigned(ec, "localhost", Instant.parse("2026-06-01T00:00:00Z"),
                Instant.parse("2027-06-01T00:00:00Z")));
        writePkcs8(keyFile, ec.getPrivate());

        assertThatThrownBy(() -> TlsMaterial.load(certFile, keyFile, CLOCK))
                .isInstanceOf(TlsConfigException.class)
                .hasMessage("certificate " + certFile + " is not valid before 2026-06-01T00:00:00Z"
                        + " (now 2026-03-01T12:00:00Z); check the system clock, or wait until then");
    }

    @Test
    void acceptsCertificateUntilItsLastSecond() throws Exception {
        writeCertificates(certFile, selfSigned(ec, "localhost", VALID_FROM, VALID_UNTIL));
        writePkcs8(keyFile, ec.getPrivate());

        assertThat(TlsMaterial.load(certFile, keyFile, Clock.fixed(VALID_UNTIL, ZoneOffset.UTC))).isNotNull();
        assertThatThrownBy(() -> TlsMaterial.load(certFile, keyFile,
                Clock.fixed(VALID_UNTIL.plusMillis(1), ZoneOffset.UTC)))
                .isInstanceOf(TlsConfigException.class)
                .hasMessageContaining("expired on 2027-01-01T00:00:00Z (now 2027-01-01T00:00:00Z)");
    }

    // --- describe() and spkiSha256Base64() ---

    @Test
    void describesSubjectKeyValidityAndNames() throws Exception {
        writeCertificates(certFile, selfSigned(rsa, "example.test", VALID_FROM, VALID_UNTIL));
        writePkcs8(keyFile, rsa.getPrivate());

        assertThat(TlsMaterial.load(certFile, keyFile, CLOCK).describe())
                .isEqualTo("CN=example.test, RSA 2048, valid until 2027-01-01T00:00:00Z, SAN [localhost]");
    }

    @Test
    void spkiHashIsSha256OfSubjectPublicKeyInfo() throws Exception {
        writeCertificates(certFile, selfSigned(ec, "localhost", VALID_FROM, VALID_UNTIL));
        writePkcs8(keyFile, ec.getPrivate());
        String expected = Base64.getEncoder().encodeToString(
                MessageDigest.getInstance("SHA-256").digest(ec.getPublic().getEncoded()));

        assertThat(TlsMaterial.load(certFile, keyFile, CLOCK).spkiSha256Base64()).isEqualTo(expected);
    }

    @Test
    void spkiHashMatchesOpenssl() throws Exception {
        assumeTrue(opensslAvailable(), "openssl not on PATH");
        writeCertificates(certFile, selfSigned(rsa, "localhost", VALID_FROM, VALID_UNTIL));
        writePkcs8(keyFile, rsa.getPrivate());
        TlsMaterial development = TlsMaterial.developmentCertificate(stateDir, CLOCK);

        for (TlsMaterial material : List.of(TlsMaterial.load(certFile, keyFile, CLOCK), development)) {
            String openssl = run("openssl x509 -pubkey -noout -in '" + material.certFile() + "'"
                    + " | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64");
            assertThat(material.spkiSha256Base64()).isEqualTo(openssl.strip());
        }
    }

    // --- development certificate ---

    @Test
    void generatesDevelopmentCertificateInNewStateDir() throws Exception {
        Path nested = stateDir.resolve("a/b");

        TlsMaterial material = TlsMaterial.developmentCertificate(nested, CLOCK);

        assertThat(material.generated()).isTrue();
        assertThat(material.certFile()).isEqualTo(nested.resolve("dev-cert.pem"));
        assertThat(material.keyFile()).isEqualTo(nested.resolve("dev-key.pem"));
        TlsMaterial reloaded = TlsMaterial.load(material.certFile(), material.keyFile(), CLOCK);
        assertThat(reloaded.leaf()).isEqualTo(material.leaf());
        assertThat(reloaded.spkiSha256Base64()).isEqualTo(material.spkiSha256Base64());
        assertThat(Files.readString(material.keyFile())).startsWith("-----BEGIN PRIVATE KEY-----");
    }

    @Test
    void developmentCertificateCoversLocalhostAndLoopbackAddresses() throws Exception {
        TlsMaterial material = TlsMaterial.developmentCertificate(stateDir, CLOCK);
        X509Certificate leaf = material.leaf();

        assertThat(material.describe()).isEqualTo(
                "CN=localhost, EC P-256, valid until 2027-03-01T12:00:00Z, SAN [localhost, 127.0.0.1, ::1]");
        assertThat(leaf.getSubjectAlternativeNames()).containsExactly(
                List.of(2, "localhost"), List.of(7, "127.0.0.1"), List.of(7, "0:0:0:0:0:0:0:1"));
        assertThat(leaf.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.1"); // serverAuth
        assertThat(leaf.getKeyUsage()).startsWith(true, false, false, false, false, false, false); // digitalSignature
        assertThat(leaf.getBasicConstraints()).isEqualTo(-1); // not a CA
        assertThat(leaf.getSigAlgName()).isEqualTo("SHA256withECDSA");
        assertThat(leaf.getNotBefore().toInstant()).isEqualTo(NOW.minus(Duration.ofHours(1)));
        assertThat(leaf.getNotAfter().toInstant()).isEqualTo(NOW.plus(Duration.ofDays(365)));
        assertThat(leaf.getSerialNumber()).isPositive();
        assertThat(leaf.getIssuerX500Principal()).isEqualTo(leaf.getSubjectX500Principal());
        leaf.verify(leaf.getPublicKey()); // self-signed
    }

    @Test
    void developmentCertificatesGetDistinctSerials() throws Exception {
        TlsMaterial first = TlsMaterial.developmentCertificate(stateDir, CLOCK);
        TlsMaterial second = TlsMaterial.developmentCertificate(dir.resolve("other"), CLOCK);

        assertThat(first.leaf().getSerialNumber()).isNotEqualTo(second.leaf().getSerialNumber());
    }

    @Test
    void developmentKeyIsPrivateToOwner() throws Exception {
        assumeTrue(dir.getFileSystem().supportedFileAttributeViews().contains("posix"), "POSIX file system");

        TlsMaterial material = TlsMaterial.developmentCertificate(stateDir, CLOCK);

        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(stateDir))).isEqualTo("rwx------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(material.keyFile())))
                .isEqualTo("rw-------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(material.certFile())))
                .isEqualTo("rw-r--r--");
    }

    @Test
    void reusesDevelopmentCertificateWhileValid() throws Exception {
        TlsMaterial first = TlsMaterial.developmentCertificate(stateDir, CLOCK);
        String pem = Files.readString(first.certFile());
        // Eight days before it expires: one day more than the renewal margin.
        Clock later = Clock.fixed(NOW.plus(Duration.ofDays(365 - 8)), ZoneOffset.UTC);

        TlsMaterial second = TlsMaterial.developmentCertificate(stateDir, later);

        assertThat(second.generated()).isTrue();
        assertThat(second.leaf()).isEqualTo(first.leaf());
        assertThat(second.spkiSha256Base64()).isEqualTo(first.spkiSha256Base64());
        assertThat(Files.readString(first.certFile())).isEqualTo(pem);
    }

    @Test
    void regeneratesDevelopmentCertificateNearExpiry() throws Exception {
        TlsMaterial first = TlsMaterial.developmentCertificate(stateDir, CLOCK);
        Instant later = NOW.plus(Duration.ofDays(365 - 6));

        TlsMaterial second = TlsMaterial.developmentCertificate(stateDir, Clock.fixed(later, ZoneOffset.UTC));

        assertThat(second.spkiSha256Base64()).isNotEqualTo(first.spkiSha256Base64());
        assertThat(second.leaf().getNotAfter().toInstant()).isEqualTo(later.plus(Duration.ofDays(365)));
        assertThat(TlsMaterial.load(second.certFile(), second.keyFile(), Clock.fixed(later, ZoneOffset.UTC))
                .leaf()).isEqualTo(second.leaf());
        assertThat(log.list).anySatisfy(event -> {
            assertThat(event.getLevel()).isEqualTo(Level.INFO);
            assertThat(event.getFormattedMessage()).isEqualTo("Generating a development certificate in " + stateDir
                    + ": the existing one expires on 2027-03-01T12:00:00Z (renewed 7 days ahead)");
        });
    }

    @Test
    void regeneratesDamagedDevelopmentCertificate() throws Exception {
        TlsMaterial first = TlsMaterial.developmentCertificate(stateDir, CLOCK);
        Files.writeString(first.certFile(), "-----BEGIN CERTIFICATE-----\nAAAA\n");

        TlsMaterial second = TlsMaterial.developmentCertificate(stateDir, CLOCK);

        assertThat(second.spkiSha256Base64()).isNotEqualTo(first.spkiSha256Base64());
        assertThat(TlsMaterial.load(second.certFile(), second.keyFile(), CLOCK).leaf()).isEqualTo(second.leaf());
        assertThat(log.list).anySatisfy(event -> assertThat(event.getFormattedMessage())
                .startsWith("Generating a development certificate in " + stateDir + ": certificate file "
                        + first.certFile() + " is not valid PEM: "));
    }

    @Test
    void regeneratesDevelopmentCertificateWhenKeyDoesNotMatch() throws Exception {
        TlsMaterial first = TlsMaterial.developmentCertificate(stateDir, CLOCK);
        writePkcs8(first.keyFile(), otherEc.getPrivate());

        TlsMaterial second = TlsMaterial.developmentCertificate(stateDir, CLOCK);

        assertThat(second.leaf()).isNotEqualTo(first.leaf());
        assertThat(TlsMaterial.load(second.certFile(), second.keyFile(), CLOCK).leaf()).isEqualTo(second.leaf());
        assertThat(log.list).anySatisfy(event -> assertThat(event.getFormattedMessage())
                .contains(": private key file " + first.keyFile() + " (EC P-256) does not match certificate"));
    }

    @Test
    void leavesNoTemporaryFilesInStateDir() throws Exception {
        TlsMaterial.developmentCertificate(stateDir, CLOCK);
        TlsMaterial.developmentCertificate(stateDir, Clock.fixed(NOW.plus(Duration.ofDays(400)), ZoneOffset.UTC));

        try (Stream<Path> files = Files.list(stateDir)) {
            assertThat(files.map(file -> file.getFileName().toString()))
                    .containsExactlyInAnyOrder("dev-cert.pem", "dev-key.pem", "dev-cert.lock");
        }
    }

    @Test
    void concurrentCallersShareOneDevelopmentCertificate() throws Exception {
        int callers = 8;
        CountDownLatch start = new CountDownLatch(1);
        List<Future<TlsMaterial>> results = new ArrayList<>();
        try (ExecutorService executor = Executors.newFixedThreadPool(callers)) {
            Callable<TlsMaterial> call = () -> {
                start.await();
                return TlsMaterial.developmentCertificate(stateDir, CLOCK);
            };
            for (int i = 0; i < callers; i++) {
                results.add(executor.submit(call));
            }
            start.countDown();
            String spki = results.getFirst().get(30, TimeUnit.SECONDS).spkiSha256Base64();
            for (Future<TlsMaterial> result : results) {
                assertThat(result.get(30, TimeUnit.SECONDS).spkiSha256Base64()).isEqualTo(spki);
            }
        }
        assertThat(log.list).filteredOn(event -> event.getFormattedMessage().startsWith("Generating")).hasSize(1);
    }

    @Test
    void rejectsStateDirThatIsAFile() throws IOException {
        Files.writeString(stateDir, "not a directory");

        assertThatThrownBy(() -> TlsMaterial.developmentCertificate(stateDir, CLOCK))
                .isInstanceOf(TlsConfigException.class)
                .hasMessage("state directory " + stateDir + " is not a directory (expected: a directory, or a path"
                        + " where one can be created)");
    }

    @Test
    void rejectsStateDirThatCannotBeCreated() throws IOException {
        Files.writeString(stateDir, "not a directory");
        Path below = stateDir.resolve("dev");

        assertThatThrownBy(() -> TlsMaterial.developmentCertificate(below, CLOCK))
                .isInstanceOf(TlsConfigException.class)
                .hasMessage("cannot create state directory " + below + ": Not a directory (expected: a path the"
                        + " server's user can create)");
    }

    // --- Netty ---

    @ParameterizedTest
    @ValueSource(strings = {"EC", "RSA", "development"})
    void quicServerHandshakesWithMaterial(String kind) throws Exception {
        TlsMaterial material = currentMaterial(kind);
        QuicSslContext serverContext = QuicSslContextBuilder.forServer(material.privateKey(), null,
                        material.chain().toArray(new X509Certificate[0]))
                .applicationProtocols("h3")
                .build();
        QuicSslContext clientContext = QuicSslContextBuilder.forClient()
                .trustManager(material.leaf())
                .applicationProtocols("h3")
                .build();
        ChannelHandler serverCodec = new QuicServerCodecBuilder()
                .sslContext(serverContext)
                .maxIdleTimeout(5, TimeUnit.SECONDS)
                .initialMaxData(65536)
                .initialMaxStreamDataBidirectionalRemote(65536)
                .initialMaxStreamsBidirectional(1)
                .tokenHandler(InsecureQuicTokenHandler.INSTANCE)
                .handler(new ChannelInboundHandlerAdapter())
                .streamHandler(new ChannelInboundHandlerAdapter())
                .build();
        ChannelHandler clientCodec = new QuicClientCodecBuilder()
                // Netty's QUIC client checks the host name by default and needs one to check against.
                .sslEngineProvider(quic -> clientContext.newEngine(quic.alloc(), "localhost", 443))
                .maxIdleTimeout(5, TimeUnit.SECONDS)
                .initialMaxData(65536)
                .build();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try {
            Channel server = bindLoopback(group, serverCodec);
            Channel client = bindLoopback(group, clientCodec);

            QuicChannel connection = QuicChannel.newBootstrap(client)
                    .handler(new ChannelInboundHandlerAdapter())
                    .remoteAddress(server.localAddress())
                    .connect()
                    .get(10, TimeUnit.SECONDS);

            assertThat(encoded(connection.sslEngine().getSession().getPeerCertificates()))
                    .containsExactlyElementsOf(encoded(material.chain().toArray(new Certificate[0])));
            connection.close().get(10, TimeUnit.SECONDS);
        } finally {
            group.shutdownGracefully(0, 5, TimeUnit.SECONDS).get(10, TimeUnit.SECONDS);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"EC", "RSA", "development"})
    void tcpServerHandshakesWithMaterial(String kind) throws Exception {
        TlsMaterial material = currentMaterial(kind);
        SslContext serverContext = SslContextBuilder.forServer(material.privateKey(), material.chain()).build();
        SslContext clientContext = SslContextBuilder.forClient().trustManager(material.leaf()).build();
        EmbeddedChannel server = new EmbeddedChannel(serverContext.newHandler(ByteBufAllocator.DEFAULT));
        SslHandler clientTls = clientContext.newHandler(ByteBufAllocator.DEFAULT, "localhost", 443);
        EmbeddedChannel client = new EmbeddedChannel(clientTls);
        try {
            for (int flight = 0; flight < 10 && !clientTls.handshakeFuture().isDone(); flight++) {
                forward(client, server);
                forward(server, client);
            }

            assertThat(clientTls.handshakeFuture().isDone()).as("handshake done").isTrue();
            assertThat(clientTls.handshakeFuture().cause()).isNull();
            assertThat(encoded(clientTls.engine().getSession().getPeerCertificates()))
                    .containsExactlyElementsOf(encoded(material.chain().toArray(new Certificate[0])));
        } finally {
            client.finishAndReleaseAll();
            server.finishAndReleaseAll();
            ReferenceCountUtil.release(serverContext);
            ReferenceCountUtil.release(clientContext);
        }
    }

    // --- helpers ---

    /** Valid by the system clock, which the client's certificate check in a handshake goes by. */
    private TlsMaterial currentMaterial(String kind) throws TlsConfigException {
        return switch (kind) {
            case "EC" -> loadCurrentSelfSigned(ec);
            case "RSA" -> loadCurrentSelfSigned(rsa);
            default -> TlsMaterial.developmentCertificate(stateDir, Clock.systemUTC());
        };
    }

    private static Channel bindLoopback(EventLoopGroup group, ChannelHandler codec) throws Exception {
        ChannelFuture bound = new Bootstrap().group(group).channel(NioDatagramChannel.class).handler(codec)
                .bind(InetAddress.getLoopbackAddress(), 0);
        bound.get(10, TimeUnit.SECONDS);
        return bound.channel();
    }

    private static void forward(EmbeddedChannel from, EmbeddedChannel to) {
        for (ByteBuf bytes = from.readOutbound(); bytes != null; bytes = from.readOutbound()) {
            to.writeInbound(bytes);
        }
    }

    private static List<String> encoded(Certificate[] certificates) throws CertificateEncodingException {
        List<String> encoded = new ArrayList<>();
        for (Certificate certificate : certificates) {
            encoded.add(Base64.getEncoder().encodeToString(certificate.getEncoded()));
        }
        return encoded;
    }

    /** A self-signed certificate for {@code localhost} with its key in OpenSSL's traditional format (SEC1, PKCS#1). */
    private TlsMaterial loadCurrentSelfSigned(KeyPair keyPair) throws TlsConfigException {
        Instant now = Instant.now();
        writeCertificates(certFile, selfSigned(keyPair, "localhost", now.minus(Duration.ofDays(1)),
                now.plus(Duration.ofDays(30))));
        if (keyPair.getPrivate() instanceof ECPrivateKey) {
            writeSec1(keyFile, keyPair);
        } else {
            writePkcs1(keyFile, keyPair.getPrivate());
        }
        return TlsMaterial.load(certFile, keyFile, Clock.systemUTC());
    }

    private static void assertHoldsPrivateKeyOf(TlsMaterial material, KeyPair expected) {
        PrivateKey key = material.privateKey();
        switch (expected.getPrivate()) {
            case ECPrivateKey ecKey -> assertThat(((ECPrivateKey) key).getS()).isEqualTo(ecKey.getS());
            case RSAPrivateKey rsaKey -> assertThat(((RSAPrivateKey) key).getPrivateExponent())
                    .isEqualTo(rsaKey.getPrivateExponent());
            case EdECPrivateKey edKey -> assertThat(((EdECPrivateKey) key).getBytes().orElseThrow())
                    .isEqualTo(edKey.getBytes().orElseThrow());
            default -> throw new AssertionError("unexpected key type " + expected.getPrivate().getAlgorithm());
        }
    }

    private static Logger logger(Class<?> type) {
        return (Logger) LoggerFactory.getLogger(type);
    }

    private static boolean opensslAvailable() throws InterruptedException {
        try {
            Process process = new ProcessBuilder("openssl", "version")
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(ProcessBuilder.Redirect.DISCARD)
                    .start();
            try {
                return process.waitFor(30, TimeUnit.SECONDS) && process.exitValue() == 0;
            } finally {
                process.destroyForcibly();
            }
        } catch (IOException e) {
            return false; // not installed
        }
    }

    /** Runs {@code shellCommand} with {@code sh -c}, bounded in time; its output (stdout and stderr). */
    private String run(String shellCommand) throws IOException, InterruptedException {
        Path output = Files.createTempFile(dir, "command", ".out");
        Process process = new ProcessBuilder("sh", "-c", shellCommand)
                .redirectErrorStream(true)
                .redirectOutput(output.toFile())
                .start();
        try {
            assertThat(process.waitFor(30, TimeUnit.SECONDS)).as("%s finished", shellCommand).isTrue();
        } finally {
            process.destroyForcibly();
        }
        String text = Files.readString(output, StandardCharsets.ISO_8859_1);
        assertThat(process.exitValue()).as("exit status of %s; output: %s", shellCommand, text).isZero();
        return text;
    }
}
