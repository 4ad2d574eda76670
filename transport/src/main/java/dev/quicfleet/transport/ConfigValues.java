package dev.quicfleet.transport;

import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parses the value syntaxes of flags and config files, the same for the worker and the supervisor: durations
 * ({@code 30s}) and byte sizes ({@code 16MiB}). Messages name the key, the value and the expected form.
 */
public final class ConfigValues {

    private static final Pattern DURATION = Pattern.compile("(\\d+)(ms|s|m|h|d)");
    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*(|b|k|kb|kib|m|mb|mib|g|gb|gib)");

    private ConfigValues() {
    }

    /**
     * A duration: a number with a unit ({@code 500ms}, {@code 30s}, {@code 5m}, {@code 1h}, {@code 1d}), or
     * ISO-8601 ({@code PT30S}).
     */
    public static Duration duration(String key, String text) {
        String value = text.trim().toLowerCase(Locale.ROOT);
        Matcher m = DURATION.matcher(value);
        if (m.matches()) {
            try {
                long n = Long.parseLong(m.group(1));
                return switch (m.group(2)) {
                    case "ms" -> Duration.ofMillis(n);
                    case "s" -> Duration.ofSeconds(n);
                    case "m" -> Duration.ofMinutes(n);
                    case "h" -> Duration.ofHours(n);
                    default -> Duration.ofDays(n);
                };
            } catch (ArithmeticException | NumberFormatException tooLong) { // found by ConfigValuesFuzzTest
                throw new IllegalArgumentException(key + ": " + text
                        + " (expected: a duration such as 500ms, 30s, 5m, 1h or PT30S, below 292 billion years)");
            }
        }
        try {
            return Duration.parse(text.trim().toUpperCase(Locale.ROOT));
        } catch (DateTimeParseException e) {
            throw new IllegalArgumentException(key + ": " + text
                    + " (expected: a duration such as 500ms, 30s, 5m, 1h or PT30S)");
        }
    }

    /** A byte size: a number with an optional binary unit ({@code 1048576}, {@code 64k}, {@code 16MiB}, {@code 1g}). */
    public static long size(String key, String text) {
        Matcher m = SIZE.matcher(text.trim().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            throw new IllegalArgumentException(key + ": " + text
                    + " (expected: a byte size such as 65536, 64k, 16MiB or 1g)");
        }
        long n;
        try {
            n = Long.parseLong(m.group(1));
        } catch (NumberFormatException tooLong) { // found by ConfigValuesFuzzTest
            throw new IllegalArgumentException(key + ": " + text + " (expected: a size below 8 EiB)");
        }
        int shift = switch (m.group(2)) {
            case "", "b" -> 0;
            case "k", "kb", "kib" -> 10;
            case "m", "mb", "mib" -> 20;
            default -> 30;
        };
        if (n > (Long.MAX_VALUE >> shift)) {
            throw new IllegalArgumentException(key + ": " + text + " (expected: a size below 8 EiB)");
        }
        return n << shift;
    }

    /** Formats a duration the way {@link #duration} reads it. */
    public static String format(Duration d) {
        // toMillis() overflows past 292 million years (PT9223372036854775S is a valid ISO duration)
        long max = Long.MAX_VALUE / 1000;
        if (d.toMillisPart() != 0 && d.getSeconds() > -max && d.getSeconds() < max) {
            return d.toMillis() + "ms";
        }
        long s = d.toSeconds();
        if (s % 3600 == 0 && s > 0) {
            return s / 3600 + "h";
        }
        if (s % 60 == 0 && s > 0) {
            return s / 60 + "m";
        }
        return s + "s";
    }
}
