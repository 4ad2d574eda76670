/**
 * The supervisor: owns the listening sockets, starts one worker JVM per core, respawns, drains and reloads them,
 * and serves the cluster's {@code /metrics}. Never runs request code. Filled in by the supervisor issue.
 */
package dev.quicfleet.supervisor;
