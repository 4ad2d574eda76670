/**
 * The exchange core: one request and its response, the same contract for HTTP/3, HTTP/2 and HTTP/1.1.
 *
 * <p>{@link dev.quicfleet.worker.protocol.Exchange} is both the event-loop sink a {@code Service} writes into and the
 * blocking adapter a {@code Handler} runs behind on a virtual thread; a protocol adapter subclasses it with the
 * framing of its protocol ({@code do*} methods) and feeds it what the peer sends ({@code offerBody}, {@code endBody},
 * {@code readComplete}, {@code writabilityChanged}, {@code closed}). {@link
 * dev.quicfleet.worker.protocol.ExchangeDispatcher} routes exchanges to the service, counts them and drains them.
 * The adapters live in {@code protocol.quic} and {@code protocol.tcp}.
 */
package dev.quicfleet.worker.protocol;
