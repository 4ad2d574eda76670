package dev.quicfleet.metrics;

import static dev.quicfleet.metrics.ExpositionChecks.assertWellFormed;
import static org.assertj.core.api.Assertions.assertThat;

import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PrometheusTextParserTest {

    private static final Labels WORKER_0 = Labels.of("worker", "0");

    private static PrometheusTextParser.Result parse(String text) {
        return PrometheusTextParser.parse(text, WORKER_0);
    }

    private static String render(PrometheusTextParser.Result result, String accept) {
        return Exposition.render(new MetricSnapshots(result.snapshots()), accept).body();
    }

    @Test
    void aWorkerScrapeReadBackRendersIdentically() {
        try (WorkerMetrics worker = new WorkerMetrics(0, "epoll")) {
            worker.connectionOpened();
            worker.handshake(true, true);
            worker.request(HttpProtocol.H3, 200, 3_000_000, 512);
            worker.request(HttpProtocol.H2, 302, 40_000_000, 0);
            String text = worker.scrape(null).body();

            PrometheusTextParser.Result result = parse(text);

            assertThat(result.problems()).as("first problem: %s", result.firstProblem()).isZero();
            assertThat(render(result, null)).isEqualTo(text);
        }
    }

    @Test
    void workerLabelIsSetToTheGivenSlotWhateverTheTextSays() {
        PrometheusTextParser.Result result = PrometheusTextParser.parse("""
                # TYPE a_total counter
                a_total{worker="7",x="1"} 1
                a_total{x="2"} 2
                """, Labels.of("worker", "3"));

        assertThat(render(result, null)).contains("a_total{worker=\"3\",x=\"1\"} 1.0\n",
                                                  "a_total{worker=\"3\",x=\"2\"} 2.0\n");
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "b 1 2 3",                    // text after the timestamp
            "b{x=\"1\" 1",                // unclosed labels
            "b{x=1} 1",                   // unquoted label value
            "b{x=\"\\t\"} 1",             // escape the format does not have
            "b{x=\"1\"",                  // line ends in the labels
            "b{1x=\"1\"} 1",              // label name starting with a digit
            "b{x=\"1\"}",                 // no value
            "b one",                      // value not a number
            "b 1.0f",                     // Java float syntax
            "b 0x10",                     // hex
            "b 1 12.5",                   // fractional timestamp
            "9b 1",                       // metric name starting with a digit
            "b-c 1",                      // '-' in a metric name
            "<html><body>502 Bad Gateway</body></html>",
            "# TYPE c bogus",             // unknown type
            "# TYPE c",                   // TYPE without a type
            "# TYPE a_total gauge",       // second TYPE
            "# HELP a_total again",       // second HELP
            "# HELP",                     // HELP without a name
    })
    void aMalformedLineIsSkippedAndCounted(String bad) {
        String text = "# HELP a_total A\n# TYPE a_total counter\na_total 1\n" + bad + "\nb{x=\"ok\"} 5 1700000000000\n";

        PrometheusTextParser.Result result = parse(text);

        assertThat(result.problems()).isEqualTo(1);
        assertThat(result.firstProblem()).startsWith("line 4: ");
        assertThat(render(result, null)).isEqualTo("""
                # HELP a_total A
                # TYPE a_total counter
                a_total{worker="0"} 1.0
                # TYPE b untyped
                b{worker="0",x="ok"} 5.0
                """);
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "# TYPE n_total counter\nn_total -1\n",                                  // counters cannot go down
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\n",                   // no +Inf bucket
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n",   // buckets not cumulative
            "# TYPE h histogram\nh_bucket{le=\"x\"} 1\nh_bucket{le=\"+Inf\"} 1\n",   // le not a number
            "# TYPE h histogram\nh_bucket 1\n",                                       // bucket without le
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1.5\n",                       // fractional count
            "# TYPE s summary\ns{quantile=\"2\"} 1\n",                               // quantile out of 0..1
            "u_total 1\n",                                 // untyped with a reserved suffix
            "# TYPE g_bucket gauge\ng_bucket 1\n",         // gauge with a reserved suffix
            "# TYPE i_info gauge\ni_info 2\n",             // _info gauge that is not an info metric
            "x{__reserved=\"1\"} 1\n",                     // label name reserved for Prometheus
    })
    void aFamilyTheModelRejectsIsSkippedAndCounted(String family) {
        PrometheusTextParser.Result result = parse("# TYPE a gauge\na 1\n" + family + "# TYPE z gauge\nz 2\n");

        assertThat(result.problems()).isEqualTo(1);
        assertThat(result.firstProblem()).startsWith("family ");
        assertThat(render(result, null)).isEqualTo("""
                # TYPE a gauge
                a{worker="0"} 1.0
                # TYPE z gauge
                z{worker="0"} 2.0
                """);
    }

    @Test
    void aSampleOfAHistogramWithoutSuffixIsSkipped() {
        PrometheusTextParser.Result result = parse("""
                # TYPE h histogram
                h 3
                h_bucket{le="+Inf"} 3
                """);

        assertThat(result.problems()).isEqualTo(1);
        assertThat(render(result, null)).contains("h_bucket{worker=\"0\",le=\"+Inf\"} 3\n");
    }

    @Test
    void aRepeatedSeriesKeepsTheFirst() {
        PrometheusTextParser.Result result = parse("# TYPE g gauge\ng{x=\"1\"} 1\ng{x=\"1\"} 2\ng{x=\"2\"} 3\n");

        assertThat(result.problems()).isEqualTo(1);
        assertThat(render(result, null)).isEqualTo("""
                # TYPE g gauge
                g{worker="0",x="1"} 1.0
                g{worker="0",x="2"} 3.0
                """);
    }

    @Test
    void escapesInLabelValuesAndHelpSurvive() {
        String text = """
                # HELP g A \\\\ backslash and a\\nnewline
                # TYPE g gauge
                g{path="C:\\\\dir",quote="say \\"hi\\"",lines="a\\nb"} 1.0
                """;

        PrometheusTextParser.Result result = parse(text);

        assertThat(result.problems()).isZero();
        assertThat(result.snapshots().getFirst().getMetadata().getHelp()).isEqualTo("A \\ backslash and a\nnewline");
        assertThat(result.snapshots().getFirst().getDataPoints().getFirst().getLabels().get("quote"))
                .isEqualTo("say \"hi\"");
        assertThat(render(result, null)).isEqualTo("""
                # HELP g A \\\\ backslash and a\\nnewline
                # TYPE g gauge
                g{lines="a\\nb",path="C:\\\\dir",quote="say \\"hi\\"",worker="0"} 1.0
                """);
    }

    @Test
    void specialValuesBlanksAndCommentsAreRead() {
        PrometheusTextParser.Result result = parse("""

                # a comment
                # UNIT ignored seconds
                \tg{x="nan"} NaN
                g{x="inf", } +Inf  1700000000000
                g { x = "minus" } -Inf\r
                g{x="exp"} 1.5e3
                # EOF
                """);

        assertThat(result.problems()).as("first problem: %s", result.firstProblem()).isZero();
        assertThat(render(result, null)).isEqualTo("""
                # TYPE g untyped
                g{worker="0",x="exp"} 1500.0
                g{worker="0",x="inf"} +Inf
                g{worker="0",x="minus"} -Inf
                g{worker="0",x="nan"} NaN
                """);
    }

    @Test
    void summariesAndCountOnlyHistogramsAreRead() {
        PrometheusTextParser.Result result = parse("""
                # TYPE s summary
                s{quantile="0.5"} 0.1
                s{quantile="0.99"} 0.3
                s_count 10
                s_sum 1.5
                # TYPE h histogram
                h_count 4
                h_sum 2.0
                """);

        assertThat(result.problems()).isZero();
        assertThat(render(result, null)).isEqualTo("""
                # TYPE h histogram
                h_bucket{worker="0",le="+Inf"} 4
                h_count{worker="0"} 4
                h_sum{worker="0"} 2.0
                # TYPE s summary
                s{worker="0",quantile="0.5"} 0.1
                s{worker="0",quantile="0.99"} 0.3
                s_count{worker="0"} 10
                s_sum{worker="0"} 1.5
                """);
    }

    @Test
    void createdGaugesFoldIntoTheirCounterAndShowInOpenMetrics() {
        // What prometheus-metrics writes in the text format with created timestamps enabled.
        PrometheusTextParser.Result result = parse("""
                # TYPE c_total counter
                c_total{x="1"} 3.0
                # TYPE h histogram
                h_bucket{le="+Inf"} 1
                h_count 1
                h_sum 0.5
                # TYPE c_created gauge
                c_created{x="1"} 1700000000.250
                # TYPE h_created gauge
                h_created 1700000001.000
                """);

        assertThat(result.problems()).isZero();
        String openMetrics = render(result, "application/openmetrics-text");
        assertWellFormed(openMetrics, true);
        assertThat(openMetrics).isEqualTo("""
                # TYPE c counter
                c_total{worker="0",x="1"} 3.0
                c_created{worker="0",x="1"} 1700000000.250
                # TYPE h histogram
                h_bucket{worker="0",le="+Inf"} 1
                h_count{worker="0"} 1
                h_sum{worker="0"} 0.5
                h_created{worker="0"} 1700000001.000
                # EOF
                """);
        assertThat(render(result, null)).doesNotContain("_created");
    }

    @Test
    void anInfoGaugeBecomesAnInfoMetric() {
        PrometheusTextParser.Result result = parse("""
                # HELP jvm_info JVM version info
                # TYPE jvm_info gauge
                jvm_info{version="25"} 1
                """);

        assertThat(render(result, "application/openmetrics-text")).isEqualTo("""
                # TYPE jvm info
                # HELP jvm JVM version info
                jvm_info{version="25",worker="0"} 1
                # EOF
                """);
    }
}
