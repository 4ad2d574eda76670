package dev.quicfleet.worker.tls;

/**
 * A worker under a supervisor could not read the cluster's shared keys in time, so it does not serve (it would issue
 * tickets no other worker accepts). The message says what to check.
 */
public final class SharedKeysUnavailableException extends RuntimeException {

    public SharedKeysUnavailableException(String message) {
        super(message);
    }
}
