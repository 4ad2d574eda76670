package dev.quicfleet.metrics;

import static dev.quicfleet.metrics.ExpositionChecks.assertWellFormed;
import static dev.quicfleet.metrics.ExpositionChecks.samples;
import static dev.quicfleet.metrics.ExpositionChecks.value;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class SupervisorMetricsTest {

    private final SupervisorMetrics metrics = new SupervisorMetrics("1.2.3", 2);

    @AfterEach
    void close() {
        metrics.close();
    }

    private String scrape(String accept) {
        return Exposition.render(metrics.snapshot(), accept).body();
    }

    @Test
    void scrapeNamesEverySupervisorSeriesAsTheIssueSpecifies() {
        metrics.workersRunning(2);
        metrics.workerRestarted(1, RestartReason.KILLED);
        metrics.workerRestarted(1, RestartReason.KILLED);
        metrics.workerRestarted(0, RestartReason.FAILED_START);
        metrics.ticketKeyRotated();
        metrics.scrapeFailed(1);

        String text = scrape(null);

        assertWellFormed(text, false);
        assertThat(text).contains("# TYPE quicfleet_build_info gauge\nquicfleet_build_info{version=\"1.2.3\"} 1\n",
                                  "# TYPE quicfleet_workers_running gauge\n",
                                  "# TYPE quicfleet_worker_restarts_total counter\n",
                                  "# TYPE quicfleet_tls_ticket_key_rotations_total counter\n",
                                  "# TYPE quicfleet_scrape_errors_total counter\n");
        assertThat(value(text, "quicfleet_workers_running")).isEqualTo(2);
        assertThat(value(text, "quicfleet_worker_restarts_total{reason=\"killed\",worker=\"1\"}")).isEqualTo(2);
        assertThat(value(text, "quicfleet_worker_restarts_total{reason=\"failed_start\",worker=\"0\"}")).isEqualTo(1);
        assertThat(value(text, "quicfleet_tls_ticket_key_rotations_total")).isEqualTo(1);
        assertThat(value(text, "quicfleet_scrape_errors_total{worker=\"1\"}")).isEqualTo(1);
        assertThat(value(text, "quicfleet_scrape_errors_total{worker=\"0\"}")).isZero();
    }

    @Test
    void ticketKeyAgeGrowsFromTheEpochStartAndShmReplacementsAreCountedByReason() {
        String before = scrape(null);
        assertWellFormed(before, false);
        assertThat(samples(before, "quicfleet_shm_replaced_total")).hasSize(5)
                .allMatch(line -> line.endsWith(" 0.0"));

        metrics.ticketKeyPublished(java.time.Duration.ofSeconds(5));
        metrics.shmReplaced("truncated");

        String text = scrape(null);
        assertWellFormed(text, false);
        assertThat(text).contains("# TYPE quicfleet_tls_ticket_key_age_seconds gauge\n",
                                  "# TYPE quicfleet_shm_replaced_total counter\n");
        assertThat(value(text, "quicfleet_tls_ticket_key_age_seconds")).isBetween(5.0, 60.0);
        assertThat(value(text, "quicfleet_shm_replaced_total{reason=\"truncated\"}")).isEqualTo(1);
        assertThat(value(text, "quicfleet_shm_replaced_total{reason=\"wedged\"}")).isZero();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> metrics.shmReplaced("gone"))
                .hasMessageStartingWith("reason: gone (expected: one of [truncated,");
    }

    @Test
    void everySlotAndReasonIsExportedBeforeItsFirstRestart() {
        String text = scrape(null);

        assertThat(samples(text, "quicfleet_worker_restarts_total")).hasSize(2 * 5)
                .allMatch(line -> line.endsWith(" 0.0"))
                .anyMatch(line -> line.contains("reason=\"crash\""))
                .anyMatch(line -> line.contains("reason=\"killed\""))
                .anyMatch(line -> line.contains("reason=\"oom\""))
                .anyMatch(line -> line.contains("reason=\"failed_start\""))
                .anyMatch(line -> line.contains("reason=\"reload\""));
        assertThat(samples(text, "quicfleet_scrape_errors_total")).hasSize(2);
    }

    @Test
    void buildInfoIsAnInfoMetricInOpenMetrics() {
        String text = scrape("application/openmetrics-text");

        assertWellFormed(text, true);
        assertThat(text).contains("# TYPE quicfleet_build info\n", "quicfleet_build_info{version=\"1.2.3\"} 1\n");
    }

    @Test
    void slotOutsideTheTableIsRejected() {
        assertThatThrownBy(() -> metrics.workerRestarted(2, RestartReason.CRASH))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("slot: 2 (expected: 0..1)");
        assertThatThrownBy(() -> new SupervisorMetrics("1.2.3", 0)).hasMessage("workers: 0 (expected: >= 1)");
        assertThatThrownBy(() -> new SupervisorMetrics("", 1))
                .hasMessage("version: '' (expected: a version such as 0.1.0)");
    }
}
