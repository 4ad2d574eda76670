/**
 * Meter names in one place ({@link dev.quicfleet.metrics.MeterNames}), the per-worker registry
 * ({@link dev.quicfleet.metrics.WorkerMetrics}), the supervisor's own meters
 * ({@link dev.quicfleet.metrics.SupervisorMetrics}) and the merge of every worker's scrape with them into one
 * Prometheus exposition ({@link dev.quicfleet.metrics.ClusterScrape}). Micrometer and prometheus-metrics only, no
 * Netty. The series, labels and example queries are in {@code docs/METRICS.md}.
 */
package dev.quicfleet.metrics;
