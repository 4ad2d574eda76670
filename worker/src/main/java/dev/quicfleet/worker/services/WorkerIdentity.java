package dev.quicfleet.worker.services;

/**
 * Which worker this is, for pages and logs.
 *
 * @param slot      the worker slot (0..N-1 under the supervisor)
 * @param pid       the process id
 * @param transport the I/O transport name
 */
public record WorkerIdentity(int slot, long pid, String transport) {
}
