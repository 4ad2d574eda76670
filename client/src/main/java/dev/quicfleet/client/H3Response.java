package dev.quicfleet.client;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * A response: status, header fields, body (as the {@link BodyHandler} made it) and the connection it came on.
 *
 * @param <T> the body type
 */
public final class H3Response<T> {

    private final int status;
    private final List<Map.Entry<String, String>> headers;
    private final T body;
    private final H3Connection connection;
    private final boolean sentEarly;
    private volatile List<Map.Entry<String, String>> trailers = List.of();

    H3Response(int status, List<Map.Entry<String, String>> headers, T body, H3Connection connection,
               boolean sentEarly) {
        this.status = status;
        this.headers = List.copyOf(headers);
        this.body = body;
        this.connection = connection;
        this.sentEarly = sentEarly;
    }

    /** The status code. */
    public int status() {
        return status;
    }

    /** The header fields in the order received, names lower-case, without pseudo-header fields. */
    public List<Map.Entry<String, String>> headers() {
        return headers;
    }

    /** The first value of header field {@code name}. */
    public Optional<String> header(String name) {
        String lower = name.toLowerCase(Locale.ROOT);
        return headers.stream().filter(e -> e.getKey().equals(lower)).map(Map.Entry::getValue).findFirst();
    }

    /** The body. */
    public T body() {
        return body;
    }

    /** Trailer fields, once the body is complete (empty before, and when there were none). */
    public List<Map.Entry<String, String>> trailers() {
        return trailers;
    }

    void trailers(List<Map.Entry<String, String>> trailers) {
        this.trailers = List.copyOf(trailers);
    }

    /** The connection that carried the exchange (for its TLS, early-data and transport facts). */
    public H3Connection connection() {
        return connection;
    }

    /** Whether the request went out as 0-RTT early data (accepted or not: see {@link H3Connection#earlyData()}). */
    public boolean sentEarly() {
        return sentEarly;
    }
}
