/**
 * Meter names in one place, the per-worker Micrometer registry and the supervisor's merge of all workers into one
 * Prometheus scrape. Micrometer only, no Netty. Filled in by the metrics issue.
 */
package dev.quicfleet.metrics;
