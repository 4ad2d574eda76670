package dev.quicfleet.http;

import io.netty.buffer.ByteBuf;

/**
 * Receives a request body on the event loop, as fast as the service {@linkplain HttpExchange#demand() asks} for it:
 * the worker reads from the network only on demand, so a service that stops asking slows the client down through
 * flow control (QUIC and HTTP/2 stream windows, TCP) instead of filling memory.
 */
public interface BodyReceiver {

    /** Body bytes arrived; the receiver owns {@code data} and must release it. */
    void onData(ByteBuf data);

    /** The body ended, with {@code trailers} (empty when none were sent). Nothing follows. */
    void onEnd(Headers trailers);

    /** The body cannot complete: the client reset the stream, the connection was lost, or it was too slow. */
    void onError(Throwable cause);
}
