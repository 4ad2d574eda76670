/**
 * The worker process: one JVM per core under the supervisor, or standalone.
 *
 * <p>{@link dev.quicfleet.worker.WorkerMain} parses the options into a {@link dev.quicfleet.worker.WorkerConfig},
 * joins the supervisor ({@link dev.quicfleet.worker.SupervisorLink}, {@link dev.quicfleet.worker.Signals}) and starts a
 * {@link dev.quicfleet.worker.Worker}, which binds the listeners and wires the rest together. What the rest is:
 * <ul>
 *   <li>{@code protocol}: the exchange core every request goes through ({@code Exchange}, {@code ExchangeDispatcher},
 *       the request body), with one adapter per transport: {@code protocol.quic} (QUIC connections, HTTP/3 request
 *       streams, early data, and the packets no connection owns: unknown connections, Version Negotiation, NAT
 *       rebinding, the reload hand-over) and {@code protocol.tcp} (TLS over TCP, HTTP/1.1 and HTTP/2);</li>
 *   <li>{@code tls}: certificates and keys, the development certificate, session tickets and the QUIC secrets shared
 *       between workers;</li>
 *   <li>{@code services}: the built-in event-loop services (static files, the demo site);</li>
 *   <li>{@code compression}: response compression (zstd, br, gzip) chosen by {@code Accept-Encoding};</li>
 *   <li>{@code log}: the access log (formatted on the event loop, written by a thread of its own).</li>
 * </ul>
 * Users' code imports {@code dev.quicfleet.http} (handlers, services, the router), and from here only
 * {@link dev.quicfleet.worker.Worker}, {@link dev.quicfleet.worker.WorkerConfig} and
 * {@code dev.quicfleet.worker.services.StaticFiles}.
 */
package dev.quicfleet.worker;
