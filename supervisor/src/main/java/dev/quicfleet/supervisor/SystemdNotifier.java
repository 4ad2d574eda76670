package dev.quicfleet.supervisor;

import io.netty.channel.epoll.Epoll;
import io.netty.channel.unix.Socket;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells systemd about the supervisor's state ({@code Type=notify}, {@code sd_notify(3)}): one datagram per state change
 * to the Unix datagram socket named by {@code $NOTIFY_SOCKET}, sent from the supervisor's own pid (the unit's main
 * pid), so the unit needs no {@code NotifyAccess=all}.
 *
 * <p>The JDK has no Unix-domain datagram channel ({@code DatagramChannel} is IP only), so the socket is Netty's native
 * one, which the supervisor already loads for its slot sockets. Without {@code $NOTIFY_SOCKET} (not started by
 * systemd) every call does nothing. A failed send is logged once and never stops the supervisor: systemd then
 * reports the start as timed out, which is the right signal.
 */
final class SystemdNotifier implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(SystemdNotifier.class);

    private final byte[] address;
    private final Socket socket;
    private boolean warned;

    private SystemdNotifier(byte[] address, Socket socket) {
        this.address = address;
        this.socket = socket;
    }

    /** A notifier for {@code $NOTIFY_SOCKET}, or one that does nothing when the variable is unset or empty. */
    static SystemdNotifier fromEnvironment() {
        return of(System.getenv("NOTIFY_SOCKET"));
    }

    /**
     * @param notifySocket a socket path, {@code @name} for an abstract socket (as systemd writes it), or {@code null}
     */
    static SystemdNotifier of(String notifySocket) {
        if (notifySocket == null || notifySocket.isEmpty()) {
            return new SystemdNotifier(null, null);
        }
        if (!notifySocket.startsWith("/") && !notifySocket.startsWith("@")) {
            // vsock addresses (vsock:CID:PORT) are for virtual machines' managers, not for a service's main process.
            log.warn("NOTIFY_SOCKET={} is not a Unix socket path: systemd is not told about readiness",
                    notifySocket);
            return new SystemdNotifier(null, null);
        }
        byte[] address = notifySocket.getBytes(StandardCharsets.UTF_8);
        if (address[0] == '@') {
            address[0] = 0; // Linux abstract namespace
        }
        Epoll.ensureAvailability(); // loads the native code of the socket
        return new SystemdNotifier(address, Socket.newSocketDomainDgram());
    }

    /** {@code READY=1}: every worker serves (after the start, and again when a reload is done). */
    void ready(String status) {
        send("READY=1\nSTATUS=" + status);
    }

    /**
     * {@code RELOADING=1} with the monotonic time systemd 253 and later require ({@code Type=notify-reload} rejects
     * a reload notification without it), followed by {@link #ready} when the reload is done.
     */
    void reloading() {
        long micros = TimeUnit.NANOSECONDS.toMicros(System.nanoTime());
        send("RELOADING=1\nMONOTONIC_USEC=" + micros + "\nSTATUS=reloading one slot at a time");
    }

    /** {@code STOPPING=1}: draining the workers before exit. */
    void stopping() {
        send("STOPPING=1\nSTATUS=draining");
    }

    /** True when started under systemd with a notification socket. */
    boolean enabled() {
        return socket != null;
    }

    private void send(String message) {
        if (socket == null) {
            return;
        }
        byte[] bytes = message.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buffer = ByteBuffer.allocateDirect(bytes.length).put(bytes).flip();
        try {
            socket.sendToDomainSocket(buffer, 0, bytes.length, address);
        } catch (IOException e) {
            if (!warned) {
                warned = true;
                log.warn("cannot notify systemd ({}): {}", message.lines().findFirst().orElse(""), e.getMessage());
            }
        }
    }

    @Override
    public void close() {
        if (socket != null) {
            try {
                socket.close();
            } catch (IOException e) {
                // nothing was left to send
            }
        }
    }
}
