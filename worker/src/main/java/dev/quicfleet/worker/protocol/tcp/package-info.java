/**
 * TLS over TCP: the accepted connections ({@code TcpConnections}: TLS, ALPN, limits, drain), HTTP/1.1
 * ({@code Http1Connection}) and HTTP/2 ({@code Http2StreamHandler}, {@code Http2Exchange}).
 */
package dev.quicfleet.worker.protocol.tcp;
