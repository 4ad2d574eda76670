/**
 * Shared TLS/QUIC secrets for all workers of a host (and all hosts of a cluster): the session-ticket key ring, its
 * rotation, cluster-secret key derivation, the Retry-token and stateless-reset keys and the 0-RTT replay register,
 * kept in an off-heap Chronicle Map on tmpfs. Free of Netty, so it is tested without native libraries.
 *
 * <p>Wiring, supervisor side (the only writer):
 * <pre>{@code
 * SharedSecretsOwner owner = SharedSecretsOwner.create(SharedSecretsConfig.forPort(port), clock);
 * KeySource keys = clusterSecretFile != null ? ClusterSecret.read(clusterSecretFile)
 *         : new RandomKeys(owner.recovered().map(KeySchedule::epochs).orElse(List.of()));
 * // every second, off any event loop:
 * owner.publish(KeySchedule.at(clock.instant(), rotation, keys));
 * // every few seconds:
 * owner.sweep(clock.instant());
 * }</pre>
 * Worker side:
 * <pre>{@code
 * SharedSecrets secrets = SharedSecrets.open(config, clock);
 * // every 250 ms on a scheduler thread: the ring also changes with time, not only with a new publication
 * secrets.refresh();
 * Optional<TicketKeyRing> ring = secrets.keys().flatMap(schedule -> schedule.ticketKeyRing(clock.instant()));
 * // if it differs from the ring applied last: setTicketKeys(ring.decryptingKeys()) on every TLS context
 * // when an early-data handshake is seen (may run on the event loop: bounded wait):
 * boolean runEarly = secrets.firstUse(clientRandom, expiresAt).firstUse();
 * }</pre>
 */
package dev.quicfleet.ticketcache;
