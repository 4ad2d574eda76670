package dev.quicfleet.metrics;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * What metrics cost per request on the worker's hot path: one {@link WorkerMetrics#request} call (a counter, a
 * timer/histogram, a byte counter). Run by {@code scripts/bench-metrics}; compared there with a request's CPU cost.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class WorkerMetricsBenchmark {

    private WorkerMetrics metrics;
    private long i;

    @Setup(Level.Trial)
    public void setUp() {
        metrics = new WorkerMetrics(0, "io_uring");
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        metrics.close();
    }

    /** One HTTP/3 request of about 75 µs and 1 KiB, as in the HTTP/3 benchmark. */
    @Benchmark
    public void request() {
        metrics.request(HttpProtocol.H3, (i++ & 15) == 0 ? 404 : 200, 75_000 + (i & 1023), 1024);
    }
}
