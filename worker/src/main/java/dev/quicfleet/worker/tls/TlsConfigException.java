package dev.quicfleet.worker.tls;

/**
 * The TLS certificate chain or private key cannot be used. The message is one line that names the file, says what is
 * wrong with it and how to fix it, so it can be shown to the operator as it is:
 * {@code "private key file /etc/quicfleet/key.pem does not match certificate /etc/quicfleet/cert.pem (...)"}.
 */
public final class TlsConfigException extends Exception {

    TlsConfigException(String message) {
        super(message);
    }

    TlsConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
