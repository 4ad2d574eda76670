package dev.quicfleet.ticketcache;

/**
 * The cluster secret file cannot be used. The message is one line naming the file, what is wrong and how to fix it,
 * so it can be shown to the operator as it is (the supervisor exits with status 2 on it):
 * {@code "cluster secret /etc/quicfleet/secret is readable by group or others (mode 0644) (expected: chmod 600 ...)"}.
 */
public final class ClusterSecretException extends Exception {

    ClusterSecretException(String message) {
        super(message);
    }

    ClusterSecretException(String message, Throwable cause) {
        super(message, cause);
    }
}
