/**
 * Shared TLS/QUIC secrets for all workers of a host (and all hosts of a cluster): the ticket-key ring, cluster-secret
 * key derivation, the 0-RTT replay register and the token/reset keys, kept in an off-heap Chronicle Map on tmpfs.
 * Free of Netty so it can be tested without native libraries. Filled in by the ticket-cache issue.
 */
package dev.quicfleet.ticketcache;
