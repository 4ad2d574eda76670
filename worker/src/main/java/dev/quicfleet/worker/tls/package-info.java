/**
 * TLS material and shared secrets: the certificate and key ({@code TlsMaterial}, {@code DevelopmentCertificate}),
 * session resumption ({@code TlsSessions}), and the keys shared by every worker through the supervisor's shared
 * memory ({@code TicketKeySync} for ticket keys, {@code QuicKeys} for Retry tokens, stateless resets and connection
 * ids).
 */
package dev.quicfleet.worker.tls;
