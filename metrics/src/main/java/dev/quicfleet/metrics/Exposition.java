package dev.quicfleet.metrics;

import io.prometheus.metrics.expositionformats.OpenMetricsTextFormatWriter;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Objects;

/**
 * One rendered scrape: the response body and the {@code Content-Type} to send it with.
 *
 * <p>The format follows the request's {@code Accept} header: OpenMetrics 1.0.0 when the client accepts
 * {@code application/openmetrics-text} (Prometheus does, and prefers it), otherwise the Prometheus text format
 * 0.0.4. The protobuf format is never chosen, since the body is text.
 *
 * @param contentType {@link #PROMETHEUS_TEXT} or {@link #OPENMETRICS_TEXT}
 * @param body        the exposition
 */
public record Exposition(String contentType, String body) {

    /** The Content-Type of the Prometheus text format 0.0.4. */
    public static final String PROMETHEUS_TEXT = PrometheusTextFormatWriter.CONTENT_TYPE;
    /** The Content-Type of the OpenMetrics 1.0.0 text format. */
    public static final String OPENMETRICS_TEXT = OpenMetricsTextFormatWriter.CONTENT_TYPE;

    // Created timestamps are off in the Prometheus text format: there they would be separate gauge families.
    private static final PrometheusTextFormatWriter TEXT_WRITER = new PrometheusTextFormatWriter(false);
    private static final OpenMetricsTextFormatWriter OPENMETRICS_WRITER = new OpenMetricsTextFormatWriter(true, false);

    /** Checks that both parts are present. */
    public Exposition {
        Objects.requireNonNull(contentType, "contentType");
        Objects.requireNonNull(body, "body");
    }

    /** Renders {@code snapshots} in the format {@code acceptHeader} asks for ({@code null}: Prometheus text). */
    static Exposition render(MetricSnapshots snapshots, String acceptHeader) {
        boolean openMetrics = prefersOpenMetrics(acceptHeader);
        ByteArrayOutputStream out = new ByteArrayOutputStream(64 * 1024);
        try {
            if (openMetrics) {
                OPENMETRICS_WRITER.write(out, snapshots);
            } else {
                TEXT_WRITER.write(out, snapshots);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("writing to memory failed", e); // a ByteArrayOutputStream does not throw
        }
        return new Exposition(openMetrics ? OPENMETRICS_TEXT : PROMETHEUS_TEXT, out.toString(StandardCharsets.UTF_8));
    }

    /**
     * Whether {@code acceptHeader} asks for OpenMetrics: it lists {@code application/openmetrics-text} with a
     * non-zero quality, and no {@code text/plain} range with a higher one.
     */
    static boolean prefersOpenMetrics(String acceptHeader) {
        if (acceptHeader == null) {
            return false;
        }
        double openMetrics = 0;
        double text = 0;
        for (String range : acceptHeader.split(",")) {
            String[] parts = range.split(";");
            String type = parts[0].trim().toLowerCase(Locale.ROOT);
            double quality = quality(parts);
            if (type.equals("application/openmetrics-text")) {
                openMetrics = Math.max(openMetrics, quality);
            } else if (type.equals("text/plain")) {
                text = Math.max(text, quality);
            }
        }
        return openMetrics > 0 && openMetrics >= text;
    }

    private static double quality(String[] rangeParts) {
        for (int i = 1; i < rangeParts.length; i++) {
            String parameter = rangeParts[i].trim();
            if (parameter.startsWith("q=") || parameter.startsWith("Q=")) {
                try {
                    return Double.parseDouble(parameter.substring(2).trim());
                } catch (NumberFormatException e) {
                    return 0; // RFC 9110 qvalue syntax; a garbled one does not count as acceptance
                }
            }
        }
        return 1;
    }
}
