package dev.quicfleet.metrics;

import static dev.quicfleet.metrics.ExpositionChecks.assertWellFormed;
import static dev.quicfleet.metrics.ExpositionChecks.samples;
import static dev.quicfleet.metrics.ExpositionChecks.sum;
import static dev.quicfleet.metrics.ExpositionChecks.value;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Timer;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClusterScrapeTest {

    private static final String OPENMETRICS = "application/openmetrics-text;version=1.0.0,"
                                              + "text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    private static final Path PROMTOOL = Path.of("/usr/bin/promtool");

    private final WorkerMetrics worker0 = new WorkerMetrics(0, "io_uring");
    private final WorkerMetrics worker1 = new WorkerMetrics(1, "io_uring");
    private final SupervisorMetrics supervisor = new SupervisorMetrics("0.1.0-test", 3);
    /** What the fetcher answers per slot; a slot without an entry fails. */
    private final Map<Integer, CompletableFuture<String>> answers = new HashMap<>();
    private final ClusterScrape cluster = new ClusterScrape(
            supervisor,
            slot -> answers.getOrDefault(slot, CompletableFuture.failedFuture(new IOException("connection refused"))),
            Duration.ofSeconds(2));

    @AfterEach
    void close() {
        worker0.close();
        worker1.close();
        supervisor.close();
    }

    /** Both workers answer with their current scrape, as the supervisor's fetcher would. */
    private void workersAnswer() {
        answers.put(0, CompletableFuture.completedFuture(worker0.scrape(WorkerScrapeFetcher.ACCEPT).body()));
        answers.put(1, CompletableFuture.completedFuture(worker1.scrape(WorkerScrapeFetcher.ACCEPT).body()));
    }

    /** Some traffic: 3 requests and 2 handshakes on worker 0, 4 requests and 1 handshake on worker 1. */
    private void traffic() {
        for (int i = 0; i < 3; i++) {
            worker0.request(HttpProtocol.H3, 200, 2_000_000, 100);
        }
        worker0.handshake(true, true);
        worker0.handshake(true, false);
        worker0.earlyData(EarlyDataOutcome.ACCEPTED);
        for (int i = 0; i < 3; i++) {
            worker1.request(HttpProtocol.H2, 200, 8_000_000, 1000);
        }
        worker1.request(HttpProtocol.HTTP_1_1, 500, 1_000_000, 10);
        worker1.handshake(false, false);
        supervisor.workersRunning(2);
        supervisor.workerRestarted(1, RestartReason.CRASH);
    }

    @Test
    void twoWorkersAndTheSupervisorMergeIntoOneBlockPerFamily() {
        traffic();
        workersAnswer();

        Exposition scrape = cluster.scrape(List.of(0, 1), null);
        String text = scrape.body();

        assertThat(scrape.contentType()).isEqualTo(Exposition.PROMETHEUS_TEXT);
        List<String> families = assertWellFormed(text, false);
        assertThat(families).doesNotHaveDuplicates()
                .contains("quicfleet_http_requests_total", "quicfleet_quic_handshakes_total",
                          "quicfleet_http_request_duration_seconds", "quicfleet_build_info",
                          "quicfleet_scrape_errors_total", "jvm_memory_used_bytes");
        assertThat(sum(text, "quicfleet_http_requests_total")).isEqualTo(7);
        assertThat(sum(text, "quicfleet_quic_handshakes_total")).isEqualTo(3);
        assertThat(sum(text, "quicfleet_http_request_duration_seconds_count")).isEqualTo(7);
        assertThat(sum(text, "quicfleet_http_response_body_bytes_total")).isEqualTo(3 * 100 + 3 * 1000 + 10);
        assertThat(value(text, "quicfleet_http_requests_total"
                               + "{protocol=\"h3\",status_class=\"2xx\",transport=\"io_uring\",worker=\"0\"}"))
                .isEqualTo(3);
        assertThat(value(text, "quicfleet_http_requests_total"
                               + "{protocol=\"http/1.1\",status_class=\"5xx\",transport=\"io_uring\",worker=\"1\"}"))
                .isEqualTo(1);
        assertThat(samples(text, "quicfleet_quic_connections_active"))
                .containsExactly("quicfleet_quic_connections_active{transport=\"io_uring\",worker=\"0\"} 0.0",
                                 "quicfleet_quic_connections_active{transport=\"io_uring\",worker=\"1\"} 0.0");
        assertThat(value(text, "quicfleet_build_info{version=\"0.1.0-test\"}")).isEqualTo(1);
        assertThat(value(text, "quicfleet_workers_running")).isEqualTo(2);
        assertThat(value(text, "quicfleet_worker_restarts_total{reason=\"crash\",worker=\"1\"}")).isEqualTo(1);
        assertThat(value(text, "quicfleet_scrape_errors_total{worker=\"0\"}")).isZero();
        assertThat(value(text, "quicfleet_scrape_errors_total{worker=\"1\"}")).isZero();
        // The supervisor's own JVM series sit in the same family, without worker and transport labels.
        assertThat(samples(text, "jvm_threads_live_threads")).hasSize(3)
                .anyMatch(line -> line.startsWith("jvm_threads_live_threads "));
    }

    @Test
    void concatenatingWorkerScrapesIsWhatTheMergeAvoids() {
        String naive = worker0.scrape(null).body() + worker1.scrape(null).body();

        assertThatThrownBy(() -> assertWellFormed(naive, false)).hasMessageContaining("one HELP for jvm_info");
    }

    @Test
    void openMetricsEndsWithExactlyOneEof() {
        traffic();
        workersAnswer();

        Exposition scrape = cluster.scrape(List.of(0, 1), OPENMETRICS);
        String text = scrape.body();

        assertThat(scrape.contentType()).isEqualTo(Exposition.OPENMETRICS_TEXT);
        List<String> families = assertWellFormed(text, true);
        assertThat(families).doesNotHaveDuplicates()
                .contains("quicfleet_http_requests", "quicfleet_build", "jvm");
        assertThat(text).contains("# TYPE quicfleet_http_requests counter\n", "# TYPE quicfleet_build info\n",
                                  "# TYPE jvm info\n");
        assertThat(sum(text, "quicfleet_http_requests_total")).isEqualTo(7);
    }

    @Test
    void aFailedWorkerIsAbsentAndCounted() {
        traffic();
        workersAnswer();
        answers.put(1, CompletableFuture.failedFuture(new IOException("connection refused")));

        String first = cluster.scrape(List.of(0, 1), null).body();
        String second = cluster.scrape(List.of(0, 1), OPENMETRICS).body();

        assertWellFormed(first, false);
        assertWellFormed(second, true);
        assertThat(first).doesNotContain("transport=\"io_uring\",worker=\"1\"")
                .contains("transport=\"io_uring\",worker=\"0\"");
        assertThat(sum(first, "quicfleet_http_requests_total")).isEqualTo(3);
        assertThat(value(first, "quicfleet_scrape_errors_total{worker=\"1\"}")).isEqualTo(1);
        assertThat(value(first, "quicfleet_scrape_errors_total{worker=\"0\"}")).isZero();
        assertThat(value(second, "quicfleet_scrape_errors_total{worker=\"1\"}")).isEqualTo(2);
    }

    @Test
    void aWorkerThatDoesNotAnswerIsCutOffAtTheDeadline() {
        workersAnswer();
        CompletableFuture<String> hanging = new CompletableFuture<>();
        answers.put(1, hanging);
        ClusterScrape impatient = new ClusterScrape(supervisor, answers::get, Duration.ofMillis(300));

        long start = System.nanoTime();
        String text = impatient.scrape(List.of(0, 1), null).body();
        long elapsedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);

        assertThat(elapsedMillis).isBetween(300L, 2_000L);
        assertThat(hanging).isCancelled();
        assertWellFormed(text, false);
        assertThat(text).doesNotContain("transport=\"io_uring\",worker=\"1\"")
                .contains("transport=\"io_uring\",worker=\"0\"");
        assertThat(value(text, "quicfleet_scrape_errors_total{worker=\"1\"}")).isEqualTo(1);
    }

    @Test
    void fastWorkersDoNotWaitForTheDeadline() {
        workersAnswer();
        ClusterScrape patient = new ClusterScrape(supervisor, answers::get, Duration.ofSeconds(30));

        long start = System.nanoTime();
        patient.scrape(List.of(0, 1), null);

        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isLessThan(5_000);
    }

    @Test
    void malformedWorkerLinesAreSkippedAndCounted() {
        traffic();
        workersAnswer();
        String broken = worker1.scrape(null).body()
                .replace("quicfleet_quic_retry_sent_total{transport=\"io_uring\",worker=\"1\"} 0.0",
                         "quicfleet_quic_retry_sent_total{transport=\"io_uring\",worker=\"1\" oops")
                + "<html>502 Bad Gateway</html>\n";
        answers.put(1, CompletableFuture.completedFuture(broken));

        String text = cluster.scrape(List.of(0, 1), null).body();

        assertWellFormed(text, false);
        assertThat(samples(text, "quicfleet_quic_retry_sent_total"))
                .containsExactly("quicfleet_quic_retry_sent_total{transport=\"io_uring\",worker=\"0\"} 0.0");
        assertThat(sum(text, "quicfleet_http_requests_total")).as("worker 1's good lines are kept").isEqualTo(7);
        assertThat(value(text, "quicfleet_scrape_errors_total{worker=\"1\"}")).isEqualTo(1);
        assertThat(value(text, "quicfleet_scrape_errors_total{worker=\"0\"}")).isZero();
    }

    @Test
    void aFetcherThatThrowsOrReturnsNullCountsAsFailed() {
        workersAnswer();
        ClusterScrape clumsy = new ClusterScrape(supervisor, slot -> switch (slot) {
            case 0 -> answers.get(0);
            case 1 -> throw new IllegalStateException("no socket for slot 1");
            default -> null;
        }, Duration.ofSeconds(2));

        String text = clumsy.scrape(List.of(0, 1, 2), null).body();

        assertWellFormed(text, false);
        assertThat(value(text, "quicfleet_scrape_errors_total{worker=\"0\"}")).isZero();
        assertThat(value(text, "quicfleet_scrape_errors_total{worker=\"1\"}")).isEqualTo(1);
        assertThat(value(text, "quicfleet_scrape_errors_total{worker=\"2\"}")).isEqualTo(1);
        assertThat(samples(text, "quicfleet_quic_connections_active")).hasSize(1);
    }

    @Test
    void theSameTextFromTwoSlotsBecomesTwoWorkers() {
        // A misrouted fetch (slot 1 answered by worker 0) must not produce duplicate series.
        answers.put(0, CompletableFuture.completedFuture(worker0.scrape(null).body()));
        answers.put(1, answers.get(0));

        String text = cluster.scrape(List.of(0, 1), null).body();

        assertWellFormed(text, false);
        assertThat(samples(text, "quicfleet_quic_retry_sent_total")).containsExactly(
                "quicfleet_quic_retry_sent_total{transport=\"io_uring\",worker=\"0\"} 0.0",
                "quicfleet_quic_retry_sent_total{transport=\"io_uring\",worker=\"1\"} 0.0");
    }

    @Test
    void aFamilyWhoseTypeDiffersKeepsTheFirstAndCountsTheWorker() {
        answers.put(0, CompletableFuture.completedFuture("# TYPE shared gauge\nshared 1\n"));
        answers.put(1, CompletableFuture.completedFuture("# TYPE shared summary\nshared_count 1\nshared_sum 2\n"
                                                         + "# TYPE own gauge\nown 3\n"));

        String first = cluster.scrape(List.of(0, 1), null).body();
        String second = cluster.scrape(List.of(0, 1), null).body();

        assertWellFormed(first, false);
        assertThat(first).contains("# TYPE shared gauge\nshared{worker=\"0\"} 1.0\n# ", "own{worker=\"1\"} 3.0\n");
        assertThat(first).doesNotContain("shared_count");
        // Found while merging, after the supervisor's series were read: the count shows from the next scrape.
        assertThat(value(second, "quicfleet_scrape_errors_total{worker=\"1\"}")).isEqualTo(1);
        assertThat(value(second, "quicfleet_scrape_errors_total{worker=\"0\"}")).isZero();
    }

    @Test
    void slotsOutsideTheSupervisorTableAreRejectedBeforeFetching() {
        List<Integer> fetched = new ArrayList<>();
        ClusterScrape recording = new ClusterScrape(supervisor, slot -> {
            fetched.add(slot);
            return CompletableFuture.completedFuture("");
        }, Duration.ofSeconds(1));

        assertThatThrownBy(() -> recording.scrape(List.of(0, 3), null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("slot: 3 (expected: 0..2)");
        assertThat(fetched).isEmpty();
        assertThatThrownBy(() -> new ClusterScrape(supervisor, answers::get, Duration.ZERO))
                .hasMessage("deadline: PT0S (expected: > 0)");
    }

    @Test
    void promtoolAcceptsTheMergedScrape() throws Exception {
        assumeTrue(Files.isExecutable(PROMTOOL), "promtool not installed (scripts/install-test-deps)");
        traffic();
        // Summaries too (Micrometer writes one for a timer without buckets, as for GC pauses), with quantiles.
        Timer.builder("test.pause").description("a timer without buckets").register(worker0.registry())
                .record(Duration.ofMillis(5));
        DistributionSummary.builder("test.quantiles").description("a distribution with percentiles")
                .publishPercentiles(0.5, 0.99).register(worker1.registry())
                .record(42);
        workersAnswer();
        answers.put(2, new CompletableFuture<>()); // and one worker that never answers

        String text = new ClusterScrape(supervisor, answers::get, Duration.ofMillis(200))
                .scrape(List.of(0, 1, 2), null).body();

        assertThat(text).contains("# TYPE test_pause_seconds summary\n",
                                  "test_quantiles{transport=\"io_uring\",worker=\"1\",quantile=\"0.99\"} 42.0\n");
        assertThat(run(List.of(PROMTOOL.toString(), "check", "metrics"), text))
                .isEqualTo(new Run(0, ""));
    }

    @Test
    void promtoolReadsTheMergedOpenMetrics(@TempDir Path dir) throws Exception {
        assumeTrue(Files.isExecutable(PROMTOOL), "promtool not installed (scripts/install-test-deps)");
        traffic();
        workersAnswer();
        String text = cluster.scrape(List.of(0, 1), OPENMETRICS).body();
        // promtool reads OpenMetrics only to backfill, which needs a timestamp on every sample.
        String stamped = text.lines()
                .map(line -> line.startsWith("#") ? line : line + " 1700000000")
                .collect(Collectors.joining("\n", "", "\n"));
        Path input = Files.writeString(dir.resolve("merged.om"), stamped);

        Run run = run(List.of(PROMTOOL.toString(), "tsdb", "create-blocks-from", "openmetrics", input.toString(),
                              dir.resolve("blocks").toString()), "");

        assertThat(run.exitCode()).as(run.output()).isZero();
        assertThat(run.output()).contains("NUM SAMPLES");
    }

    private record Run(int exitCode, String output) {
    }

    private static Run run(List<String> command, String stdin) throws Exception {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        try {
            try (OutputStream in = process.getOutputStream()) {
                in.write(stdin.getBytes(StandardCharsets.UTF_8));
            }
            CompletableFuture<String> output = CompletableFuture.supplyAsync(() -> {
                try {
                    return new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            assertThat(process.waitFor(30, TimeUnit.SECONDS)).as("%s finished", command).isTrue();
            return new Run(process.exitValue(), output.get(10, TimeUnit.SECONDS));
        } finally {
            process.destroyForcibly();
        }
    }
}
