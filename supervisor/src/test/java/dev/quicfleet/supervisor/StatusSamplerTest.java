package dev.quicfleet.supervisor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class StatusSamplerTest {

    private static final long SECOND = TimeUnit.SECONDS.toNanos(1);

    private static String scrape(double h3Worker0, double h3Worker1, double accepted, double resumed,
                                 double restarts, String keyAge) {
        return """
                # TYPE quicfleet_http_requests_total counter
                quicfleet_http_requests_total{protocol="h3",status_class="2xx",transport="io_uring",worker="0"} %s
                quicfleet_http_requests_total{protocol="h3",status_class="2xx",transport="io_uring",worker="1"} %s
                quicfleet_http_requests_total{protocol="h2",status_class="5xx",transport="io_uring",worker="0"} 0.0
                quicfleet_quic_early_data_requests_total{outcome="accepted",transport="io_uring",worker="0"} %s
                quicfleet_quic_handshakes_total{result="success",resumed="true",transport="io_uring",worker="0"} %s
                quicfleet_quic_handshakes_total{result="success",resumed="false",transport="io_uring",worker="0"} 1.0
                quicfleet_worker_restarts_total{reason="killed",worker="1"} %s
                quicfleet_workers_running 2.0
                quicfleet_tls_ticket_key_age_seconds %s
                jvm_info{runtime="OpenJDK Runtime Environment",vendor="Eclipse Adoptium",version="25"} 1
                """.formatted(h3Worker0, h3Worker1, accepted, resumed, restarts, keyAge);
    }

    @Test
    void ratesArePerSecondPerSeriesAndARespawnedWorkersCountersCountFromZero() {
        StatusSampler sampler = new StatusSampler(null, List::of); // fed by hand, at the times given
        sampler.sample(scrape(100, 50, 10, 20, 0, "12.5"), 0, 1_000);
        assertThat(sampler.samples()).as("a rate needs two scrapes").isEmpty();

        sampler.sample(scrape(120, 70, 20, 40, 0, "14.5"), 2 * SECOND, 3_000);
        StatusSampler.Sample first = sampler.samples().getFirst();
        assertThat(first.time()).isEqualTo(3_000);
        assertThat(first.rates().get("requests")).isCloseTo(20, within(1e-9));
        assertThat(first.rates().get("requests_h3")).isCloseTo(20, within(1e-9));
        assertThat(first.rates().get("requests_h2")).isZero();
        assertThat(first.rates().get("early_data_accepted")).isCloseTo(5, within(1e-9));
        assertThat(first.rates().get("handshakes_resumed")).isCloseTo(10, within(1e-9));
        assertThat(first.rates().get("handshakes_full")).isZero();
        assertThat(first.zeroRttShare()).isCloseTo(0.25, within(1e-9));
        assertThat(first.keyAgeSeconds()).isEqualTo(14.5);
        assertThat(first.workersRunning()).isEqualTo(2);

        // Worker 1 was respawned: its counter restarted at 0 and reads 8 now, an increase of 8, not -62.
        sampler.sample(scrape(140, 8, 20, 40, 1, "NaN"), 4 * SECOND, 5_000);
        StatusSampler.Sample second = sampler.samples().get(1);
        assertThat(second.rates().get("requests")).isCloseTo((20 + 8) / 2.0, within(1e-9));
        assertThat(second.restarts()).isEqualTo(1);
        assertThat(second.keyAgeSeconds()).as("--no-shared-tickets").isNull();
        assertThat(second.zeroRttShare()).isZero();
    }

    @Test
    void keepsTheLastTenMinutes() {
        StatusSampler sampler = new StatusSampler(null, List::of);
        for (int i = 0; i <= StatusSampler.CAPACITY + 10; i++) {
            sampler.sample(scrape(i, 0, 0, 0, 0, "1"), i * SECOND, i);
        }
        List<StatusSampler.Sample> samples = sampler.samples();
        assertThat(samples).hasSize(StatusSampler.CAPACITY);
        assertThat(samples.getLast().time()).isEqualTo(StatusSampler.CAPACITY + 10);
        assertThat(samples.getFirst().time()).isEqualTo(11);
        assertThat(StatusSampler.INTERVAL.multipliedBy(StatusSampler.CAPACITY).toMinutes()).isEqualTo(10);
    }
}
