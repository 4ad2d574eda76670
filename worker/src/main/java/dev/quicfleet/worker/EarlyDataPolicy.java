package dev.quicfleet.worker;

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
    ALL;

    /** {@code off}, {@code safe} or {@code all}. */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses {@code off|safe|all}; the message names the expected values. */
    public static EarlyDataPolicy parse(String value) {
        for (EarlyDataPolicy policy : values()) {
            if (policy.id().equals(value)) {
                return policy;
            }
        }
        throw new IllegalArgumentException("early-data: " + value + " (expected: off, safe or all)");
    }

    /** Whether a request with this method and body may run before the handshake completes. */
    boolean mayRunEarly(String method, boolean hasBody) {
        return switch (this) {
            case OFF -> false;
            case ALL -> true;
            case SAFE -> !hasBody && (method.equals("GET") || method.equals("HEAD") || method.equals("OPTIONS"));
        };
    }
}
