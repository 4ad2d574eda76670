package dev.quicfleet.worker.log;

import dev.quicfleet.http.ConnectionInfo;
import dev.quicfleet.http.Protocol;
import dev.quicfleet.http.Request;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

/**
 * How one access log line looks. Formatting runs on the event loop that finished the exchange, so it writes into a
 * caller's {@link StringBuilder} and reads the clock once per line.
 */
public enum AccessLogFormat {

    /**
     * nginx's and Apache's {@code combined} format, which log analysers read as it is:
     * {@code 127.0.0.1 - - [07/Dec/2026:04:20:00 +0000] "GET /a HTTP/3.0" 200 1024 "-" "curl/8.14"}. The fields
     * beyond it (protocol details, duration, upstream) are in {@link #JSON}.
     */
    COMBINED,

    /** One JSON object per line with every field (see docs/ACCESS-LOG.md). */
    JSON;

    private static final DateTimeFormatter COMBINED_TIME =
            DateTimeFormatter.ofPattern("dd/MMM/yyyy:HH:mm:ss Z", Locale.ROOT);

    /** Parses {@code combined} or {@code json}, naming the option in the error. */
    public static AccessLogFormat parse(String key, String text) {
        return switch (text.toLowerCase(Locale.ROOT)) {
            case "combined" -> COMBINED;
            case "json" -> JSON;
            default -> throw new IllegalArgumentException(key + ": " + text + " (expected: combined or json)");
        };
    }

    /** What one line records beyond the request itself. */
    public record Outcome(int status, long bytesIn, long bytesOut, long durationNanos, int slot, String upstream,
                          String failure) {
    }

    /** Appends one line (with its newline) for {@code request} to {@code line}. */
    public void format(StringBuilder line, long epochMillis, Request request, Outcome outcome) {
        ConnectionInfo connection = request.connection();
        if (this == COMBINED) {
            line.append(address(connection.remote())).append(" - - [");
            cachedTime(line, epochMillis);
            line.append("] \"");
            escaped(line, request.method(), false);
            line.append(' ');
            escaped(line, request.target(), false);
            line.append(' ').append(protocolName(connection.protocol())).append("\" ")
                    .append(outcome.status()).append(' ').append(outcome.bytesOut()).append(" \"");
            escaped(line, headerOrDash(request, "referer"), false);
            line.append("\" \"");
            escaped(line, headerOrDash(request, "user-agent"), false);
            line.append("\"\n");
            return;
        }
        line.append("{\"time\":\"").append(Instant.ofEpochMilli(epochMillis)).append('"');
        line.append(",\"client\":\"").append(address(connection.remote())).append('"');
        line.append(",\"protocol\":\"").append(protocolName(connection.protocol())).append('"');
        jsonField(line, "method", request.method());
        jsonField(line, "authority", request.authority());
        jsonField(line, "path", request.target());
        line.append(",\"status\":").append(outcome.status());
        line.append(",\"bytes_in\":").append(outcome.bytesIn());
        line.append(",\"bytes_out\":").append(outcome.bytesOut());
        line.append(",\"duration_ms\":");
        long micros = outcome.durationNanos() / 1000;
        line.append(micros / 1000).append('.');
        long fraction = micros % 1000;
        if (fraction < 100) {
            line.append(fraction < 10 ? "00" : "0");
        }
        line.append(fraction);
        line.append(",\"tls_resumed\":").append(connection.tlsResumed());
        line.append(",\"early_data\":").append(connection.earlyData());
        line.append(",\"slot\":").append(outcome.slot());
        jsonField(line, "upstream", outcome.upstream());
        jsonField(line, "failure", outcome.failure());
        jsonField(line, "referer", request.headers().get("referer"));
        jsonField(line, "user_agent", request.headers().get("user-agent"));
        line.append("}\n");
    }

    private static String protocolName(Protocol protocol) {
        return switch (protocol) {
            case H3 -> "HTTP/3.0";
            case H2 -> "HTTP/2.0";
            case HTTP_1_1 -> "HTTP/1.1";
        };
    }

    private static String address(InetSocketAddress address) {
        return address == null ? "-" : address.getAddress().getHostAddress();
    }

    private static String headerOrDash(Request request, String name) {
        String value = request.headers().get(name);
        return value == null || value.isEmpty() ? "-" : value;
    }

    private static void jsonField(StringBuilder line, String name, String value) {
        line.append(",\"").append(name).append("\":");
        if (value == null) {
            line.append("null");
        } else {
            line.append('"');
            escaped(line, value, true);
            line.append('"');
        }
    }

    /**
     * Appends {@code value} with quotes, backslashes and control characters escaped — nginx's {@code \xHH} in the
     * combined format, JSON's {@code \}{@code uHHHH} in JSON — so a hostile request cannot forge a line or a field.
     */
    private static void escaped(StringBuilder line, String value, boolean json) {
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            boolean special = c == '"' || c == '\\';
            if (json && special) {
                line.append('\\').append(c);
            } else if (special || c < 0x20 || c == 0x7F) {
                line.append(json ? "\\u00" : "\\x").append(HEX[c >> 4 & 0xF]).append(HEX[c & 0xF]);
            } else {
                line.append(c);
            }
        }
    }

    private static final char[] HEX = "0123456789ABCDEF".toCharArray();

    /** The combined format's time, formatted once per second per thread (the event loop's). */
    private static final ThreadLocal<CachedTime> cachedTime =
            ThreadLocal.withInitial(() -> new CachedTime(Long.MIN_VALUE, ""));

    private record CachedTime(long second, String text) {
    }

    private static void cachedTime(StringBuilder line, long epochMillis) {
        long second = Math.floorDiv(epochMillis, 1000);
        CachedTime cached = cachedTime.get();
        if (cached.second() != second) {
            cached = new CachedTime(second, COMBINED_TIME.format(
                    ZonedDateTime.ofInstant(Instant.ofEpochSecond(second), ZoneId.systemDefault())));
            cachedTime.set(cached);
        }
        line.append(cached.text());
    }
}
