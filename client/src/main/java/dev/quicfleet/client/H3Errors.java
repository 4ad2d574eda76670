package dev.quicfleet.client;

/** Names of HTTP/3 error codes (RFC 9114 section 8.1), for messages. */
final class H3Errors {

    private static final String[] NAMES = {"H3_NO_ERROR", "H3_GENERAL_PROTOCOL_ERROR", "H3_INTERNAL_ERROR",
        "H3_STREAM_CREATION_ERROR", "H3_CLOSED_CRITICAL_STREAM", "H3_FRAME_UNEXPECTED", "H3_FRAME_ERROR",
        "H3_EXCESSIVE_LOAD", "H3_ID_ERROR", "H3_SETTINGS_ERROR", "H3_MISSING_SETTINGS", "H3_REQUEST_REJECTED",
        "H3_REQUEST_CANCELLED", "H3_REQUEST_INCOMPLETE", "H3_MESSAGE_ERROR", "H3_CONNECT_ERROR",
        "H3_VERSION_FALLBACK"};

    private H3Errors() {
    }

    static String name(long code) {
        long i = code - 0x100;
        return i >= 0 && i < NAMES.length ? NAMES[(int) i] : "unknown";
    }
}
