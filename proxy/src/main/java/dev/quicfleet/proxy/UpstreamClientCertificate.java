package dev.quicfleet.proxy;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.InvalidKeySpecException;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The certificate and key the proxy presents to {@code https://} upstreams that ask for one (mutual TLS): nginx's
 * {@code proxy_ssl_certificate} and {@code proxy_ssl_certificate_key}. Read from PEM files with the JDK alone (this
 * module has no BouncyCastle): the certificate chain, client certificate first, and its private key as unencrypted
 * PKCS#8, EC or RSA.
 *
 * <p>{@link #read} checks everything a handshake would trip over later, so that a bad file is one message at start-up
 * (or from {@code check-config}) naming the flag, the file and what is expected, not a failed handshake per request.
 *
 * @param key   the private key of {@code chain[0]}
 * @param chain the client certificate, then the intermediates that issued it
 */
record UpstreamClientCertificate(PrivateKey key, X509Certificate[] chain) {

    static final String CERT_KEY = "upstream-client-cert";
    static final String KEY_KEY = "upstream-client-key";
    static final String CERT_EXPECTED = "a PEM file with the client certificate, then its intermediates";
    static final String KEY_EXPECTED = "a PEM file with the client certificate's private key, unencrypted PKCS#8 "
            + "(-----BEGIN PRIVATE KEY-----), EC or RSA";

    /** A PEM block: its label and its base64 body (headers such as {@code Proc-Type} included, for the check). */
    private static final Pattern BLOCK = Pattern.compile(
            "-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \\1-----", Pattern.DOTALL);
    /** What {@link #checkKeyMatches} signs; any bytes do, possession of the key is what is proven. */
    private static final byte[] KEY_CHECK_MESSAGE = "quicfleet: does this key belong to the client certificate?"
            .getBytes(StandardCharsets.US_ASCII);

    /**
     * Reads and checks the pair: both files PEM, the key unencrypted PKCS#8 of type EC or RSA, and the key belonging
     * to the first certificate.
     *
     * @throws IllegalArgumentException naming {@code upstream-client-cert} or {@code upstream-client-key}, the file
     *                                  and what is expected
     */
    static UpstreamClientCertificate read(Path certFile, Path keyFile) {
        X509Certificate[] chain = readChain(certFile);
        PrivateKey key = readKey(keyFile);
        checkKeyMatches(key, chain, certFile, keyFile);
        return new UpstreamClientCertificate(key, chain);
    }

    private static X509Certificate[] readChain(Path file) {
        String pem = readPem(file, CERT_KEY, CERT_EXPECTED);
        List<X509Certificate> chain = new ArrayList<>();
        boolean holdsKey = false;
        CertificateFactory factory;
        try {
            factory = CertificateFactory.getInstance("X.509");
        } catch (CertificateException e) {
            throw new IllegalStateException("the JDK has no X.509 certificate factory", e);
        }
        for (Matcher block = BLOCK.matcher(pem); block.find(); ) {
            if (block.group(1).equals("CERTIFICATE")) {
                try {
                    byte[] der = decode(block.group(2));
                    chain.add((X509Certificate) factory.generateCertificate(new ByteArrayInputStream(der)));
                } catch (IllegalArgumentException | CertificateException e) {
                    throw bad(CERT_KEY, file, "certificate " + (chain.size() + 1) + " is not a certificate the JDK "
                            + "can read: " + e.getMessage(), CERT_EXPECTED);
                }
            } else {
                holdsKey |= block.group(1).endsWith("PRIVATE KEY");
            }
        }
        if (!chain.isEmpty()) {
            return chain.toArray(X509Certificate[]::new);
        }
        if (holdsKey) {
            throw bad(CERT_KEY, file, "a private key but no certificate: swapped with " + KEY_KEY + "?",
                    CERT_EXPECTED);
        }
        throw notPem(CERT_KEY, file, pem, "CERTIFICATE", "openssl x509 -inform der -in " + file
                + " -out client.pem", CERT_EXPECTED);
    }

    private static PrivateKey readKey(Path file) {
        String pem = readPem(file, KEY_KEY, KEY_EXPECTED);
        boolean holdsCertificate = false;
        for (Matcher block = BLOCK.matcher(pem); block.find(); ) {
            String label = block.group(1);
            String plain = "openssl pkcs8 -topk8 -nocrypt -in " + file + " -out client-key.pem";
            switch (label) {
                case "PRIVATE KEY" -> {
                    return pkcs8(file, block.group(2));
                }
                case "ENCRYPTED PRIVATE KEY" -> throw bad(KEY_KEY, file, "encrypted: a key with a passphrase is "
                        + "not supported; decrypt it with `" + plain + "` and keep it readable only by the server's "
                        + "user", KEY_EXPECTED);
                case "RSA PRIVATE KEY", "EC PRIVATE KEY" -> {
                    if (block.group(2).contains("ENCRYPTED")) { // Proc-Type: 4,ENCRYPTED
                        throw bad(KEY_KEY, file, "encrypted: a key with a passphrase is not supported; decrypt "
                                + "and convert it with `" + plain + "` and keep it readable only by the server's "
                                + "user", KEY_EXPECTED);
                    }
                    throw bad(KEY_KEY, file, (label.startsWith("RSA") ? "PKCS#1" : "SEC1") + " (-----BEGIN "
                            + label + "-----), not PKCS#8: convert it with `" + plain + "`", KEY_EXPECTED);
                }
                default -> holdsCertificate |= label.equals("CERTIFICATE"); // EC PARAMETERS and the like: skipped
            }
        }
        if (holdsCertificate) {
            throw bad(KEY_KEY, file, "a certificate but no private key: swapped with " + CERT_KEY + "?",
                    KEY_EXPECTED);
        }
        throw notPem(KEY_KEY, file, pem, "PRIVATE KEY", "openssl pkcs8 -topk8 -nocrypt -inform der -in " + file
                + " -out client-key.pem", KEY_EXPECTED);
    }

    /** The key of a {@code PRIVATE KEY} block, EC or RSA; the JDK's key factories tell the type by trying. */
    private static PrivateKey pkcs8(Path file, String base64) {
        PKCS8EncodedKeySpec spec;
        try {
            spec = new PKCS8EncodedKeySpec(decode(base64));
        } catch (IllegalArgumentException e) {
            throw bad(KEY_KEY, file, "not a key the JDK can read: " + e.getMessage(), KEY_EXPECTED);
        }
        for (String algorithm : List.of("EC", "RSA")) {
            try {
                return KeyFactory.getInstance(algorithm).generatePrivate(spec);
            } catch (GeneralSecurityException e) {
                // not of this type: the next one
            }
        }
        // Name the type when it is one the JDK knows, so that the operator sees what to replace.
        for (String algorithm : List.of("Ed25519", "Ed448", "X25519", "RSASSA-PSS", "DSA")) {
            try {
                KeyFactory.getInstance(algorithm).generatePrivate(spec);
                throw bad(KEY_KEY, file, "a key of type " + algorithm, KEY_EXPECTED);
            } catch (InvalidKeySpecException e) {
                // not of this type either
            } catch (GeneralSecurityException e) {
                // a type this JDK does not know
            }
        }
        throw bad(KEY_KEY, file, "not a key the JDK can read as EC or RSA", KEY_EXPECTED);
    }

    /** Proves that {@code key} belongs to the first certificate: what it signs, that certificate's key verifies. */
    private static void checkKeyMatches(PrivateKey key, X509Certificate[] chain, Path certFile, Path keyFile) {
        String algorithm = key.getAlgorithm().equals("EC") ? "SHA256withECDSA" : "SHA256withRSA";
        byte[] signature;
        try {
            Signature signer = Signature.getInstance(algorithm);
            signer.initSign(key);
            signer.update(KEY_CHECK_MESSAGE);
            signature = signer.sign();
        } catch (GeneralSecurityException e) {
            throw bad(KEY_KEY, keyFile, "an " + key.getAlgorithm() + " key that cannot sign: " + e.getMessage(),
                    KEY_EXPECTED);
        }
        if (verifies(chain[0].getPublicKey(), algorithm, signature)) {
            return;
        }
        for (int i = 1; i < chain.length; i++) {
            if (verifies(chain[i].getPublicKey(), algorithm, signature)) {
                throw bad(CERT_KEY, certFile, "the key in " + keyFile + " belongs to certificate " + (i + 1) + " of "
                        + chain.length + ", " + chain[i].getSubjectX500Principal().getName() + ", not to the first",
                        CERT_EXPECTED);
            }
        }
        throw bad(KEY_KEY, keyFile, "does not belong to the certificate " + chain[0].getSubjectX500Principal()
                .getName() + " in " + certFile, "the private key the client certificate was issued for");
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

    private static String readPem(Path file, String key, String expected) {
        if (Files.isDirectory(file)) {
            throw bad(key, file, "a directory", expected);
        }
        try {
            // Latin-1 maps every byte to a char: a DER file arrives intact enough to be recognised.
            return Files.readString(file, StandardCharsets.ISO_8859_1);
        } catch (NoSuchFileException e) {
            throw bad(key, file, "no such file", expected);
        } catch (AccessDeniedException e) {
            throw bad(key, file, "permission denied: let the server's user read it", expected);
        } catch (IOException e) {
            throw bad(key, file, "cannot read it: " + e.getMessage(), expected);
        }
    }

    /** PEM's base64, whose lines the MIME decoder joins; headers (none in these blocks) would fail it. */
    private static byte[] decode(String base64) {
        return Base64.getMimeDecoder().decode(base64.strip());
    }

    private static IllegalArgumentException notPem(String key, Path file, String content, String label,
                                                   String derConversion, String expected) {
        // DER starts with an ASN.1 SEQUENCE tag; PEM would have a BEGIN line.
        if (!content.isEmpty() && content.charAt(0) == 0x30 && !content.contains("-----BEGIN")) {
            return bad(key, file, "DER, not PEM: convert it with `" + derConversion + "`", expected);
        }
        return bad(key, file, "not PEM: no -----BEGIN " + label + "----- block", expected);
    }

    private static IllegalArgumentException bad(String key, Path file, String problem, String expected) {
        return new IllegalArgumentException(key + ": " + file + " (" + problem + "; expected: " + expected + ")");
    }
}
