package dev.quicfleet.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ExpositionTest {

    @ParameterizedTest(name = "{0} -> OpenMetrics: {1}")
    @CsvSource(delimiter = '|', nullValues = "null", value = {
            "null | false",
            "'' | false",
            "*/* | false",
            "text/plain | false",
            "text/plain;version=0.0.4 | false",
            "application/openmetrics-text | true",
            "Application/OpenMetrics-Text; version=1.0.0 | true",
            // Prometheus 2.x
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
            + "text/plain;version=0.0.4;q=0.5,*/*;q=0.1 | true",
            "application/openmetrics-text;q=0 | false",
            "application/openmetrics-text;q=0.4, text/plain;q=0.9 | false",
            "text/plain;q=0.5, application/openmetrics-text;q=0.5 | true",
            "application/openmetrics-text;q=oops | false",
            // a protobuf-only scraper still gets text, never bytes in a String
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited | false",
    })
    void acceptHeaderPicksTheFormat(String accept, boolean openMetrics) {
        assertThat(Exposition.prefersOpenMetrics(accept)).isEqualTo(openMetrics);
    }
}
