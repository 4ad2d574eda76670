package dev.quicfleet.client;

import dev.quicfleet.http.websocket.WebSocketFrames;
import dev.quicfleet.http.websocket.WebSocketMessage;
import dev.quicfleet.http.websocket.WebSocketSession;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http3.DefaultHttp3DataFrame;
import io.netty.handler.codec.http3.DefaultHttp3HeadersFrame;
import io.netty.handler.codec.http3.Http3DataFrame;
import io.netty.handler.codec.http3.Http3HeadersFrame;
import io.netty.handler.codec.http3.Http3RequestStreamInboundHandler;
import io.netty.handler.codec.quic.QuicException;
import io.netty.handler.codec.quic.QuicStreamChannel;
import io.netty.handler.codec.quic.QuicStreamResetException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A WebSocket over HTTP/3 (RFC 9220): an extended CONNECT ({@code :protocol websocket}) on one request stream, then
 * RFC 6455 frames (masked, as a client sends them) in its DATA frames. Opened by {@link H3Connection#openWebSocket}.
 *
 * <p>Blocking and thread-safe, for tests and tools: {@link #receive()} waits for a message, {@link #send} waits while
 * the stream has no send capacity. Pings are answered.
 *
 * <p>Backpressure: the stream is read only on demand (auto-read off). While at least {@link #MAX_INBOX} bytes of
 * received messages wait for {@link #receive()}, this socket stops reading the QUIC stream; the unread bytes then
 * hold the stream's flow-control window shut, so a server that sends faster than the application receives is
 * stopped by QUIC itself. {@link #receive()} resumes reading once the inbox is below the bound again. Memory held
 * per socket: the inbox (the bound plus at most one read's worth of messages), the message being assembled, and
 * whatever QUIC buffered within the stream window the client grants ({@code H3Client.Builder.windows}, 4 MiB by
 * default). While the inbox is full, pings and the server's close wait unread too, behind the unread messages.
 */
public final class H3WebSocket {

    /** Bytes of received messages that may wait for {@link #receive()} before the stream is no longer read. */
    public static final int MAX_INBOX = 1 << 20;

    private final String authority;
    private final String path;
    /** The server, for messages. */
    private final String peer;
    private final CompletableFuture<H3WebSocket> opened = new CompletableFuture<>();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final ArrayDeque<WebSocketMessage> inbox = new ArrayDeque<>();
    private long inboxBytes;
    /** The event loop stopped reading because the inbox was full; {@link #receive()} resumes it. */
    private boolean paused;
    private boolean ended;
    private volatile QuicStreamChannel stream;
    /** The connection's acknowledgement batching, or null (set before {@link #stream}). */
    private volatile DelayedAcks acks;
    private volatile int closeCode;
    private volatile String closeReason = "";
    private volatile boolean closeSent;

    // event loop only
    private ByteBuf cumulation;
    private int messageOpcode = -1;
    private byte[] message = new byte[0];
    private int messageLength;

    H3WebSocket(String authority, String path, String peer) {
        this.authority = authority;
        this.path = path;
        this.peer = peer;
    }

    /** Completes with this socket once the server answered 200; fails on another status or a closed stream. */
    CompletableFuture<H3WebSocket> opened() {
        return opened;
    }

    /** The stream handler: installed by {@link H3Connection#openWebSocket}. */
    Http3RequestStreamInboundHandler handler() {
        return new Handler();
    }

    /**
     * The next message, or {@code null} once the server closed (see {@link #closeCode()}). Taking a message off a full
     * inbox lets the stream be read again.
     */
    public WebSocketMessage receive() throws InterruptedException {
        WebSocketMessage next;
        boolean resume = false;
        lock.lock();
        try {
            while (inbox.isEmpty() && !ended) {
                changed.await();
            }
            next = inbox.poll();
            if (next != null) {
                inboxBytes -= next.data().length;
                if (paused && inboxBytes < MAX_INBOX) {
                    paused = false;
                    resume = true;
                }
            }
        } finally {
            lock.unlock();
        }
        if (resume) {
            QuicStreamChannel s = stream;
            // read() on the loop: Netty then reads quiche's buffered bytes and sends the window update at once
            s.eventLoop().execute(() -> {
                s.read();
                wrote();
            });
        }
        return next;
    }

    /** Bytes of received messages waiting for {@link #receive()}. */
    public long inboxBytes() {
        lock.lock();
        try {
            return inboxBytes;
        } finally {
            lock.unlock();
        }
    }

    /** Sends {@code message}, waiting while the stream cannot take more. */
    public void send(WebSocketMessage message) throws IOException, InterruptedException {
        byte[] data = message.data();
        write(message.text() ? WebSocketFrames.TEXT : WebSocketFrames.BINARY, data);
    }

    private void write(int opcode, byte[] data) throws IOException, InterruptedException {
        QuicStreamChannel s = stream;
        lock.lock();
        try {
            while (!s.isWritable() && s.isActive() && !ended) {
                changed.await(10, TimeUnit.MILLISECONDS);
            }
            if (!s.isActive() || ended) {
                throw new IOException("WebSocket closed (" + closeCode + " " + closeReason + ")");
            }
        } finally {
            lock.unlock();
        }
        ByteBuf frame = WebSocketFrames.encode(s.alloc(), true, opcode, data, 0, data.length, true);
        s.writeAndFlush(new DefaultHttp3DataFrame(frame));
        if (acks != null) {
            s.eventLoop().execute(this::wrote); // after the write: tasks run in order
        }
    }

    /**
     * Something was written on the stream, or reading opened its window (on the event loop): with delayed
     * acknowledgements ({@code H3Client.Builder.ackEvery}) Netty holds stream writes until the held read-complete
     * goes on, so release it now, as {@code H3Connection.wrote()} does for requests.
     */
    private void wrote() {
        DelayedAcks a = acks;
        if (a != null) {
            a.wrote();
        }
    }

    /** Sends a close frame; {@link #receive()} returns {@code null} once the server answers. */
    public void close(int code, String reason) throws IOException, InterruptedException {
        if (!closeSent) {
            closeSent = true;
            write(WebSocketFrames.CLOSE, WebSocketFrames.closePayload(code, reason));
        }
    }

    /** The server's close code ({@code 1005}: none, {@code 1006}: no close frame); {@code 0} while open. */
    public int closeCode() {
        return closeCode;
    }

    /** The reason that came with {@link #closeCode()}. */
    public String closeReason() {
        return closeReason;
    }

    private void end(int code, String reason) {
        lock.lock();
        try {
            if (closeCode == 0) {
                closeReason = reason;
                closeCode = code;
            }
            ended = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void deliver(WebSocketMessage m) {
        lock.lock();
        try {
            inbox.add(m);
            inboxBytes += m.data().length;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private final class Handler extends Http3RequestStreamInboundHandler {

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            // Reads are asked for while the inbox has room, so a slow receiver holds the server back (flow control).
            ctx.channel().config().setAutoRead(false);
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            QuicStreamChannel s = (QuicStreamChannel) ctx.channel();
            Channel udp = s.parent().parent();
            acks = udp == null ? null : udp.pipeline().get(DelayedAcks.class);
            stream = s;
            Http3HeadersFrame headers = new DefaultHttp3HeadersFrame();
            headers.headers().method("CONNECT").scheme("https").authority(authority).path(path)
                    .set(":protocol", "websocket").set("sec-websocket-version", "13");
            ctx.writeAndFlush(headers);
            wrote();
            ctx.read();
            ctx.fireChannelActive();
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            boolean more;
            lock.lock();
            try {
                // after the close, keep reading: the rest (the stream's FIN) is discarded, and the stream can end
                more = inboxBytes < MAX_INBOX || ended;
                paused = !more;
            } finally {
                lock.unlock();
            }
            if (more) {
                ctx.read();
            }
            ctx.fireChannelReadComplete();
        }

        @Override
        protected void channelRead(ChannelHandlerContext ctx, Http3HeadersFrame frame) {
            if (opened.isDone()) {
                return; // trailers
            }
            CharSequence status = frame.headers().status();
            if (status != null && "200".contentEquals(status)) {
                opened.complete(H3WebSocket.this);
            } else {
                opened.completeExceptionally(new H3ProtocolException("WebSocket over HTTP/3 refused: status "
                        + status));
                ctx.close();
            }
        }

        @Override
        protected void channelRead(ChannelHandlerContext ctx, Http3DataFrame frame) {
            ByteBuf data = frame.content();
            if (cumulation == null) {
                cumulation = Unpooled.buffer(data.readableBytes());
            }
            cumulation.writeBytes(data);
            frame.release();
            try {
                WebSocketFrames.Frame f;
                while ((f = WebSocketFrames.decode(cumulation, false, Integer.MAX_VALUE)) != null) {
                    onFrame(ctx, f);
                }
            } catch (WebSocketFrames.FrameException e) {
                end(e.closeCode(), e.getMessage());
                ctx.close();
                return;
            }
            cumulation.discardSomeReadBytes();
        }

        private void onFrame(ChannelHandlerContext ctx, WebSocketFrames.Frame f) {
            switch (f.opcode()) {
                case WebSocketFrames.PING -> {
                    ctx.writeAndFlush(new DefaultHttp3DataFrame(WebSocketFrames.encode(ctx.alloc(), true,
                            WebSocketFrames.PONG, f.payload(), 0, f.payload().length, true)));
                    wrote();
                }
                case WebSocketFrames.PONG -> {
                }
                case WebSocketFrames.CLOSE -> {
                    byte[] p = f.payload();
                    int code = p.length >= 2 ? ((p[0] & 0xFF) << 8) | (p[1] & 0xFF) : WebSocketSession.NO_STATUS;
                    String reason = p.length > 2 ? new String(p, 2, p.length - 2, StandardCharsets.UTF_8) : "";
                    if (!closeSent) {
                        closeSent = true;
                        byte[] echo = WebSocketFrames.closePayload(code == WebSocketSession.NO_STATUS
                                ? WebSocketSession.NORMAL_CLOSURE : code, "");
                        ctx.writeAndFlush(new DefaultHttp3DataFrame(WebSocketFrames.encode(ctx.alloc(), true,
                                WebSocketFrames.CLOSE, echo, 0, echo.length, true)))
                                .addListener(QuicStreamChannel.SHUTDOWN_OUTPUT);
                        wrote();
                    }
                    end(code, reason);
                }
                default -> {
                    if (f.opcode() != WebSocketFrames.CONTINUATION) {
                        messageOpcode = f.opcode();
                    }
                    byte[] p = f.payload();
                    if (messageLength + p.length > message.length) {
                        message = Arrays.copyOf(message, Math.max(messageLength + p.length, message.length * 2));
                    }
                    System.arraycopy(p, 0, message, messageLength, p.length);
                    messageLength += p.length;
                    if (f.fin()) {
                        deliver(new WebSocketMessage(messageOpcode == WebSocketFrames.TEXT,
                                Arrays.copyOf(message, messageLength)));
                        messageLength = 0;
                        messageOpcode = -1;
                    }
                }
            }
        }

        @Override
        protected void handleQuicException(ChannelHandlerContext ctx, QuicException exception) {
            if (exception instanceof QuicStreamResetException reset) {
                long code = reset.applicationProtocolCode();
                opened.completeExceptionally(new H3StreamResetException("WebSocket stream reset by " + peer
                        + (code >= 0 ? " (error 0x" + Long.toHexString(code) + " " + H3Errors.name(code) + ")" : ""),
                        code, exception));
                end(WebSocketSession.ABNORMAL_CLOSURE, "stream reset");
            }
            ctx.close();
        }

        @Override
        protected void channelInputClosed(ChannelHandlerContext ctx) {
            end(WebSocketSession.ABNORMAL_CLOSURE, "stream ended");
            ctx.close();
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            lock.lock();
            try {
                changed.signalAll();
            } finally {
                lock.unlock();
            }
            ctx.fireChannelWritabilityChanged();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (cumulation != null) {
                cumulation.release();
                cumulation = null;
            }
            opened.completeExceptionally(new H3ProtocolException("WebSocket stream closed before the response"));
            end(WebSocketSession.ABNORMAL_CLOSURE, "stream closed");
            ctx.fireChannelInactive();
        }
    }
}
