package dev.quicfleet.worker.protocol;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeFormatterBuilder;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoField;
import java.util.Locale;

/**
 * HTTP-date (RFC 9110 §5.6.7): writes IMF-fixdate, reads all three formats a recipient must accept.
 *
 * <p>{@link DateTimeFormatter#RFC_1123_DATE_TIME} is not used because it writes single-digit days without the
 * leading zero that IMF-fixdate requires, and accepts numeric offsets that HTTP-date does not allow.
 */
public final class HttpDates {

    /** {@code Sun, 06 Nov 1994 08:49:37 GMT}: the only format a sender may generate. */
    private static final DateTimeFormatter IMF_FIXDATE =
            DateTimeFormatter.ofPattern("EEE, dd MMM uuuu HH:mm:ss 'GMT'", Locale.ENGLISH).withZone(ZoneOffset.UTC);

    /**
     * {@code Sunday, 06-Nov-94 08:49:37 GMT} (obsolete RFC 850). Two-digit years are read as 1970..2069: the RFC's
     * "more than 50 years in the future means the past" rule, fixed to a base year so that parsing is repeatable.
     */
    private static final DateTimeFormatter RFC_850 = new DateTimeFormatterBuilder()
            .appendPattern("EEEE, dd-MMM-")
            .appendValueReduced(ChronoField.YEAR, 2, 2, 1970)
            .appendPattern(" HH:mm:ss 'GMT'")
            .toFormatter(Locale.ENGLISH)
            .withZone(ZoneOffset.UTC);

    /** {@code Sun Nov  6 08:49:37 1994} (obsolete C asctime()): the day is padded with a space. */
    private static final DateTimeFormatter ASCTIME =
            DateTimeFormatter.ofPattern("EEE MMM ppd HH:mm:ss uuuu", Locale.ENGLISH).withZone(ZoneOffset.UTC);

    private record Cached(long second, String text) {
    }

    private static volatile Cached cached = new Cached(Long.MIN_VALUE, "");

    /** The current time as IMF-fixdate, for the {@code date} header; formatted at most once per second. */
    static String now() {
        long second = System.currentTimeMillis() / 1000;
        Cached c = cached;
        if (c.second != second) {
            c = new Cached(second, IMF_FIXDATE.format(Instant.ofEpochSecond(second)));
            cached = c;
        }
        return c.text;
    }

    private HttpDates() {
    }

    /** {@code instant} as IMF-fixdate; sub-second precision is dropped, as HTTP-date has none. */
    public static String format(Instant instant) {
        return IMF_FIXDATE.format(instant);
    }

    /** The instant {@code value} denotes, or {@code null} when it is not a valid HTTP-date in any of the formats. */
    public static Instant parse(String value) {
        String trimmed = value.strip();
        // The comma tells the formats apart ("Sun," / "Sunday," / none), so no format is tried in vain.
        int comma = trimmed.indexOf(',');
        DateTimeFormatter format = comma == 3 ? IMF_FIXDATE : comma > 3 ? RFC_850 : ASCTIME;
        try {
            return format.parse(trimmed, Instant::from);
        } catch (DateTimeParseException e) {
            return null;
        }
    }
}
