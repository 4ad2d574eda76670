/**
 * The access log: {@link dev.quicfleet.worker.log.AccessLogFormat} formats a finished exchange's line on its event
 * loop; {@link dev.quicfleet.worker.log.AccessLog} queues it for one writer thread, reopens the file on SIGUSR1 and
 * counts what it drops (docs/ACCESS-LOG.md).
 */
package dev.quicfleet.worker.log;
