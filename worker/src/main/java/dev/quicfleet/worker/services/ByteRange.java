package dev.quicfleet.worker.services;

/**
 * The single byte range a {@code range} field asks for (RFC 9110 §14.1.2), resolved against the representation's
 * size: {@code first} and {@code last} are inclusive offsets with {@code 0 <= first <= last < size}.
 *
 * <p>Only one range is supported. The RFC lets a server ignore a {@code range} field it does not want to honour
 * and send the whole representation, which is what callers do when {@link #parse} returns {@code null} for a
 * multi-range request: a multipart/byteranges body costs more to build than it saves, and clients that ask for
 * several ranges (mostly PDF viewers) cope with the full file.
 */
record ByteRange(long first, long last) {

    /** Returned by {@link #parse} when the field is valid but no byte of the representation falls in it (416). */
    static final ByteRange UNSATISFIABLE = new ByteRange(-1, -1);

    private static final String UNIT = "bytes=";

    /** The number of bytes in the range. */
    long length() {
        return last - first + 1;
    }

    /** The {@code content-range} value for a 206 response: {@code bytes first-last/size}. */
    String contentRange(long size) {
        return "bytes " + first + "-" + last + "/" + size;
    }

    /**
     * Parses the value of a {@code range} field for a representation of {@code size} bytes.
     *
     * @return the range to send, with {@code last} clamped to the end of the representation;
     *         {@link #UNSATISFIABLE} for {@code bytes=a-} or {@code bytes=a-b} with {@code a >= size} and for
     *         {@code bytes=-0}; {@code null} when the field must be ignored: another unit, a syntax error,
     *         {@code b < a}, several ranges, or a suffix range of an empty representation (whose "whole
     *         representation" is the empty 200 response)
     */
    static ByteRange parse(String value, long size) {
        String field = value.strip();
        if (!field.regionMatches(true, 0, UNIT, 0, UNIT.length())) {
            return null;
        }
        String spec = field.substring(UNIT.length()).strip();
        int dash = spec.indexOf('-');
        if (dash < 0 || spec.indexOf(',') >= 0) {
            return null;
        }
        long last = digits(spec, dash + 1, spec.length());
        if (dash == 0) {
            // Suffix range "-n": the last n bytes.
            if (last < 0) {
                return null;
            }
            if (last == 0) {
                return UNSATISFIABLE;
            }
            return size == 0 ? null : new ByteRange(Math.max(0, size - last), size - 1);
        }
        long first = digits(spec, 0, dash);
        if (first < 0) {
            return null;
        }
        if (dash == spec.length() - 1) {
            last = Long.MAX_VALUE;
        } else if (last < first) {
            // Also covers last == -1 (not digits).
            return null;
        }
        if (first >= size) {
            return UNSATISFIABLE;
        }
        return new ByteRange(first, Math.min(last, size - 1));
    }

    /**
     * The decimal number in {@code s[from, to)}, saturating at {@link Long#MAX_VALUE} so that an absurdly large
     * position is still "beyond the end" rather than an error; {@code -1} when the part is empty or not all digits.
     */
    private static long digits(String s, int from, int to) {
        if (from >= to) {
            return -1;
        }
        long value = 0;
        for (int i = from; i < to; i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            int digit = c - '0';
            value = value > (Long.MAX_VALUE - digit) / 10 ? Long.MAX_VALUE : value * 10 + digit;
        }
        return value;
    }
}
