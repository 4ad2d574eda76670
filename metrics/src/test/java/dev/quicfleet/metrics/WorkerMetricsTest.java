package dev.quicfleet.metrics;

import static dev.quicfleet.metrics.ExpositionChecks.assertWellFormed;
import static dev.quicfleet.metrics.ExpositionChecks.samples;
import static dev.quicfleet.metrics.ExpositionChecks.value;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class WorkerMetricsTest {

    private final WorkerMetrics metrics = new WorkerMetrics(3, "io_uring");

    @AfterEach
    void close() {
        metrics.close();
    }

    private static final String W = "transport=\"io_uring\",worker=\"3\"";

    @Test
    void scrapeNamesEveryWorkerSeriesAsTheIssueSpecifies() {
        metrics.connectionOpened();
        metrics.connectionOpened();
        metrics.handshake(true, false);
        metrics.handshake(true, true);
        metrics.handshake(true, true);
        metrics.handshake(false, false);
        metrics.earlyData(EarlyDataOutcome.ACCEPTED);
        metrics.earlyData(EarlyDataOutcome.DEFERRED);
        metrics.earlyData(EarlyDataOutcome.REPLAYED);
        metrics.earlyData(EarlyDataOutcome.REPLAYED);
        metrics.retrySent();
        metrics.packets(120, 3);
        metrics.packets(30, 0);
        metrics.request(HttpProtocol.H3, 200, 4_000_000, 1000);
        metrics.request(HttpProtocol.H2, 404, 1_000_000, 20);
        metrics.request(HttpProtocol.HTTP_1_1, 503, 1_000_000, 0);

        Exposition scrape = metrics.scrape(null);
        String text = scrape.body();

        assertThat(scrape.contentType()).isEqualTo("text/plain; version=0.0.4; charset=utf-8");
        assertWellFormed(text, false);
        assertThat(text).contains(
                "# TYPE quicfleet_quic_connections_active gauge\n",
                "# TYPE quicfleet_quic_handshakes_total counter\n",
                "# TYPE quicfleet_quic_early_data_requests_total counter\n",
                "# TYPE quicfleet_quic_retry_sent_total counter\n",
                "# TYPE quicfleet_quic_packets_sent_total counter\n",
                "# TYPE quicfleet_quic_packets_lost_total counter\n",
                "# TYPE quicfleet_http_requests_total counter\n",
                "# TYPE quicfleet_http_request_duration_seconds histogram\n",
                "# TYPE quicfleet_http_response_body_bytes_total counter\n");
        assertThat(value(text, "quicfleet_quic_connections_active{" + W + "}")).isEqualTo(2);
        assertThat(value(text, "quicfleet_quic_handshakes_total{result=\"success\",resumed=\"false\"," + W + "}"))
                .isEqualTo(1);
        assertThat(value(text, "quicfleet_quic_handshakes_total{result=\"success\",resumed=\"true\"," + W + "}"))
                .isEqualTo(2);
        assertThat(value(text, "quicfleet_quic_handshakes_total{result=\"failure\",resumed=\"false\"," + W + "}"))
                .isEqualTo(1);
        assertThat(value(text, "quicfleet_quic_handshakes_total{result=\"failure\",resumed=\"true\"," + W + "}"))
                .isZero();
        assertThat(value(text, "quicfleet_quic_early_data_requests_total{outcome=\"accepted\"," + W + "}"))
                .isEqualTo(1);
        assertThat(value(text, "quicfleet_quic_early_data_requests_total{outcome=\"deferred\"," + W + "}"))
                .isEqualTo(1);
        assertThat(value(text, "quicfleet_quic_early_data_requests_total{outcome=\"replayed\"," + W + "}"))
                .isEqualTo(2);
        assertThat(value(text, "quicfleet_quic_retry_sent_total{" + W + "}")).isEqualTo(1);
        assertThat(value(text, "quicfleet_quic_packets_sent_total{" + W + "}")).isEqualTo(150);
        assertThat(value(text, "quicfleet_quic_packets_lost_total{" + W + "}")).isEqualTo(3);
        assertThat(value(text, "quicfleet_http_requests_total{protocol=\"h3\",status_class=\"2xx\"," + W + "}"))
                .isEqualTo(1);
        assertThat(value(text, "quicfleet_http_requests_total{protocol=\"h2\",status_class=\"4xx\"," + W + "}"))
                .isEqualTo(1);
        assertThat(value(text, "quicfleet_http_requests_total{protocol=\"http/1.1\",status_class=\"5xx\"," + W + "}"))
                .isEqualTo(1);
        assertThat(value(text, "quicfleet_http_request_duration_seconds_count{protocol=\"h3\"," + W + "}"))
                .isEqualTo(1);
        assertThat(value(text, "quicfleet_http_request_duration_seconds_sum{protocol=\"h3\"," + W + "}"))
                .isEqualTo(0.004);
        assertThat(value(text, "quicfleet_http_response_body_bytes_total{protocol=\"h3\"," + W + "}"))
                .isEqualTo(1000);
        assertThat(value(text, "quicfleet_http_response_body_bytes_total{protocol=\"h2\"," + W + "}"))
                .isEqualTo(20);
        assertThat(value(text, "quicfleet_http_response_body_bytes_total{protocol=\"http/1.1\"," + W + "}"))
                .isZero();
    }

    @Test
    void everyTagCombinationIsExportedBeforeItsFirstEvent() {
        String text = metrics.scrape(null).body();

        assertThat(samples(text, "quicfleet_quic_handshakes_total")).hasSize(2 * 2);
        assertThat(samples(text, "quicfleet_quic_early_data_requests_total")).hasSize(4);
        assertThat(samples(text, "quicfleet_http_requests_total")).hasSize(3 * 5)
                .allMatch(line -> line.endsWith(" 0.0"));
        assertThat(samples(text, "quicfleet_http_request_duration_seconds_count")).hasSize(3);
        assertThat(samples(text, "quicfleet_http_response_body_bytes_total")).hasSize(3);
        assertThat(value(text, "quicfleet_http_requests_total{protocol=\"h3\",status_class=\"1xx\"," + W + "}"))
                .isZero();
    }

    @Test
    void handshakeFailuresAndDroppedDatagramsAreCountedByReason() {
        String before = metrics.scrape(null).body();
        assertThat(samples(before, "quicfleet_quic_handshake_failures_total")).hasSize(2)
                .allMatch(line -> line.endsWith(" 0.0"));
        assertThat(samples(before, "quicfleet_quic_datagrams_dropped_total")).hasSize(3)
                .allMatch(line -> line.endsWith(" 0.0"));

        metrics.handshakeFailed(HandshakeFailure.TIMEOUT);
        metrics.datagramDropped(DroppedDatagram.MALFORMED);
        metrics.datagramDropped(DroppedDatagram.MALFORMED);
        metrics.datagramDropped(DroppedDatagram.AMPLIFICATION);

        String text = metrics.scrape(null).body();
        assertThat(value(text, "quicfleet_quic_handshake_failures_total{reason=\"timeout\"," + W + "}"))
                .isEqualTo(1);
        assertThat(value(text, "quicfleet_quic_handshake_failures_total{reason=\"closed\"," + W + "}")).isZero();
        assertThat(value(text, "quicfleet_quic_datagrams_dropped_total{reason=\"malformed\"," + W + "}"))
                .isEqualTo(2);
        assertThat(value(text, "quicfleet_quic_datagrams_dropped_total{reason=\"amplification\"," + W + "}"))
                .isEqualTo(1);
        assertThat(value(text, "quicfleet_quic_datagrams_dropped_total{reason=\"draining\"," + W + "}")).isZero();
    }

    @Test
    void requestDurationsLandInCumulativeHistogramBuckets() {
        metrics.request(HttpProtocol.H3, 200, 700_000, 1);       // 0.7 ms
        metrics.request(HttpProtocol.H3, 200, 3_000_000, 1);     // 3 ms
        metrics.request(HttpProtocol.H3, 200, 3_000_000, 1);     // 3 ms
        metrics.request(HttpProtocol.H3, 200, 60_000_000_000L, 1); // 60 s, above the last bound
        metrics.request(HttpProtocol.H3, 200, -1, 1);            // a clock that went backwards: not recorded

        String text = metrics.scrape(null).body();
        String bucket = "quicfleet_http_request_duration_seconds_bucket{protocol=\"h3\"," + W + ",le=";

        assertThat(samples(text, "quicfleet_http_request_duration_seconds_bucket"))
                .hasSize(3 * (WorkerMetrics.DURATION_BUCKETS.length + 1));
        assertThat(value(text, bucket + "\"0.001\"}")).isEqualTo(1);
        assertThat(value(text, bucket + "\"0.002\"}")).isEqualTo(1);
        assertThat(value(text, bucket + "\"0.005\"}")).isEqualTo(3);
        assertThat(value(text, bucket + "\"30.0\"}")).isEqualTo(3);
        assertThat(value(text, bucket + "\"+Inf\"}")).isEqualTo(4);
        assertThat(value(text, "quicfleet_http_request_duration_seconds_count{protocol=\"h3\"," + W + "}"))
                .isEqualTo(4);
        assertThat(value(text, "quicfleet_http_requests_total{protocol=\"h3\",status_class=\"2xx\"," + W + "}"))
                .isEqualTo(5);
    }

    @Test
    void requestsRegisterNoMetersAndAllocateNothing() {
        // Only quicfleet meters: Micrometer's GC binder registers a pause timer on the first GC of each kind.
        long quicfleetMeters = quicfleetMeterCount();
        HttpProtocol[] protocols = HttpProtocol.values();
        EarlyDataOutcome[] outcomes = EarlyDataOutcome.values(); // values() copies the array: not in the loop
        for (int i = 0; i < 20_000; i++) { // warm-up, so the measured loop runs compiled code
            metrics.request(protocols[i % 3], 100 + i % 500, i * 1_000L, i);
        }
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        assumeTrue(threads.isThreadAllocatedMemorySupported() && threads.isThreadAllocatedMemoryEnabled());

        long allocatedBefore = threads.getCurrentThreadAllocatedBytes();
        for (int i = 0; i < 10_000; i++) {
            metrics.request(protocols[i % 3], 100 + i % 500, i * 1_000L, i);
            metrics.handshake(i % 2 == 0, i % 3 == 0);
            metrics.earlyData(outcomes[i % 3]);
            metrics.packets(i, i % 7);
        }
        long allocated = threads.getCurrentThreadAllocatedBytes() - allocatedBefore;

        assertThat(quicfleetMeterCount()).isEqualTo(quicfleetMeters);
        // One object per round would be >= 160 KB; occasional bookkeeping (a histogram's time window rotating, a
        // deoptimisation) allocates a few hundred bytes now and then, which is not per request.
        assertThat(allocated).as("bytes allocated by 10,000 rounds of recording").isLessThan(16_384);
    }

    private long quicfleetMeterCount() {
        return metrics.registry().getMeters().stream()
                .filter(meter -> meter.getId().getName().startsWith(MeterNames.PREFIX + "."))
                .count();
    }

    @Test
    void connectionsActiveFollowsOpensAndCloses() {
        for (int i = 0; i < 5; i++) {
            metrics.connectionOpened();
        }
        metrics.connectionClosed();
        metrics.connectionClosed();

        assertThat(value(metrics.scrape(null).body(), "quicfleet_quic_connections_active{" + W + "}")).isEqualTo(3);
    }

    @Test
    void packetDeltasBelowOneAddNothing() {
        metrics.packets(10, 2);
        metrics.packets(0, -5);
        metrics.packets(-3, 0);

        String text = metrics.scrape(null).body();
        assertThat(value(text, "quicfleet_quic_packets_sent_total{" + W + "}")).isEqualTo(10);
        assertThat(value(text, "quicfleet_quic_packets_lost_total{" + W + "}")).isEqualTo(2);
    }

    @Test
    void timeoutsAndTcpErrorsAreCountedByReasonAndExportedFromTheStart() {
        String before = metrics.scrape(null).body();
        for (HttpProtocol protocol : HttpProtocol.values()) {
            for (TimeoutReason reason : TimeoutReason.values()) {
                assertThat(value(before, "quicfleet_http_timeouts_total{protocol=\"" + protocol.tagValue()
                        + "\",reason=\"" + reason.tagValue() + "\"," + W + "}")).isZero();
            }
        }
        for (TcpErrorReason reason : TcpErrorReason.values()) {
            assertThat(value(before, "quicfleet_tcp_connection_errors_total{reason=\"" + reason.tagValue() + "\","
                    + W + "}")).isZero();
        }

        metrics.timeout(HttpProtocol.HTTP_1_1, TimeoutReason.HEADER);
        metrics.timeout(HttpProtocol.H2, TimeoutReason.SEND);
        metrics.timeout(HttpProtocol.H2, TimeoutReason.SEND);
        metrics.tcpError(TcpErrorReason.RESET);

        String text = metrics.scrape(null).body();
        assertThat(value(text, "quicfleet_http_timeouts_total{protocol=\"http/1.1\",reason=\"header\"," + W + "}"))
                .isEqualTo(1);
        assertThat(value(text, "quicfleet_http_timeouts_total{protocol=\"h2\",reason=\"send\"," + W + "}"))
                .isEqualTo(2);
        assertThat(value(text, "quicfleet_tcp_connection_errors_total{reason=\"reset\"," + W + "}")).isEqualTo(1);
        assertThat(metrics.timeouts(HttpProtocol.H2, TimeoutReason.SEND)).isEqualTo(2);
        assertThat(metrics.tcpErrors(TcpErrorReason.RESET)).isEqualTo(1);
        assertThat(metrics.tcpErrors(TcpErrorReason.TLS)).isZero();
    }

    @Test
    void statusOutsideHttpRangeIsRejected() {
        assertThatThrownBy(() -> metrics.request(HttpProtocol.H3, 99, 1, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("status: 99 (expected: 100..599)");
        assertThatThrownBy(() -> metrics.request(HttpProtocol.H3, 600, 1, 1))
                .hasMessage("status: 600 (expected: 100..599)");
    }

    @Test
    void jvmAndProcessSeriesCarryTheWorkerTags() {
        String text = metrics.scrape(null).body();

        assertThat(text).contains(
                "jvm_memory_used_bytes{area=\"heap\"",
                "jvm_threads_live_threads{" + W + "}",
                "jvm_classes_loaded_classes{" + W + "}",
                "jvm_gc_memory_allocated_bytes_total{" + W + "}",
                "jvm_available_processors{" + W + "}",
                "jvm_info{runtime=",
                "process_cpu_usage{" + W + "}",
                "process_cpu_seconds_total{" + W + "}",
                "process_files_open_files{" + W + "}",
                "process_files_max_files{" + W + "}",
                "process_uptime_seconds{" + W + "}",
                "process_start_time_seconds{" + W + "}",
                "system_cpu_usage{" + W + "}");
        assertThat(text).doesNotContain("process_cpu_time_ns_total", "system_cpu_count");
        assertThat(value(text, "process_cpu_seconds_total{" + W + "}")).isPositive();
    }

    @Test
    void openMetricsIsChosenByTheAcceptHeader() {
        metrics.retrySent();

        Exposition openMetrics = metrics.scrape(
                "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
                + "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"); // what Prometheus 2.42 sends
        Exposition text = metrics.scrape("text/plain");

        assertThat(openMetrics.contentType()).isEqualTo("application/openmetrics-text; version=1.0.0; charset=utf-8");
        assertWellFormed(openMetrics.body(), true);
        assertThat(openMetrics.body()).contains("# TYPE quicfleet_quic_retry_sent counter\n",
                                                "quicfleet_quic_retry_sent_total{" + W + "} 1.0\n");
        assertThat(text.contentType()).isEqualTo(Exposition.PROMETHEUS_TEXT);
        assertWellFormed(text.body(), false);
    }

    @Test
    void invalidSlotOrTransportIsRejected() {
        assertThatThrownBy(() -> new WorkerMetrics(-1, "nio")).hasMessage("slot: -1 (expected: >= 0)");
        assertThatThrownBy(() -> new WorkerMetrics(0, " "))
                .hasMessage("transport: ' ' (expected: io_uring, epoll or nio)");
    }
}
