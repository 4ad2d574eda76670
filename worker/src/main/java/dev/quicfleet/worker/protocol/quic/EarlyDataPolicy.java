package dev.quicfleet.worker.protocol.quic;

import java.util.Locale;

/**
 * What a worker does with requests that arrive in TLS 1.3 early data (0-RTT), {@code --early-data}. Early data can be
 * replayed by an attacker who captured a client's first flight (RFC 8446 §8, RFC 9001 §9.2): the replay register
 * stops replays that reach any worker of the cluster, and the policy limits what may run before the handshake
 * completes at all.
 */
public enum EarlyDataPolicy {

    /** 0-RTT is refused in the TLS handshake; every request waits one round trip. */
    OFF,

    /**
     * The default: GET, HEAD and OPTIONS without a body run as soon as they arrive; every other early request waits
     * until the handshake completes (RFC 8470 §3: the server may always choose to wait).
     */
    SAFE,

    /** Every early request runs as soon as it arrives: for applications whose handlers are all replay-safe. */
    ALL,

    /**
     * Like {@link #SAFE}, but every other early request is answered at once with 425 Too Early (RFC 8470 §5.2)
     * instead of waiting for the handshake; the client retries it after the handshake. For operators who prefer the
     * client to decide.
     */
    TOO_EARLY;

    /** {@code off}, {@code safe}, {@code all} or {@code 425}. */
    public String id() {
        return this == TOO_EARLY ? "425" : name().toLowerCase(Locale.ROOT);
    }

    /** Parses {@code off|safe|all|425}; the message names the expected values. */
    public static EarlyDataPolicy parse(String value) {
        for (EarlyDataPolicy policy : values()) {
            if (policy.id().equals(value)) {
                return policy;
            }
        }
        throw new IllegalArgumentException("early-data: " + value + " (expected: off, safe, all or 425)");
    }

    /** Whether a request with this method and body may run before the handshake completes. */
    boolean mayRunEarly(String method, boolean hasBody) {
        return switch (this) {
            case OFF -> false;
            case ALL -> true;
            case SAFE, TOO_EARLY -> !hasBody && (method.equals("GET") || method.equals("HEAD") || method.equals("OPTIONS"));
        };
    }
}
