package dev.quicfleet.supervisor;

import io.netty.channel.epoll.Epoll;
import io.netty.channel.unix.Socket;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The listening sockets the supervisor owns: per worker slot, one UDP socket and one TCP listening socket, all on
 * the same port with {@code SO_REUSEPORT}, bound in slot order. The kernel's reuseport group is an array indexed in
 * bind order; because these sockets live as long as the supervisor and a respawned worker gets its slot's sockets
 * back, the group never changes order or size and a worker restart never re-shuffles which worker receives whose
 * packets (DESIGN.md, "Why the supervisor owns the sockets").
 */
final class SlotSockets implements AutoCloseable {

    /** One slot's sockets. */
    record Slot(int index, Socket udp, Socket tcp) {
        int udpFd() {
            return udp.intValue();
        }

        int tcpFd() {
            return tcp.intValue();
        }
    }

    private final List<Slot> slots;
    private final int port;

    private SlotSockets(List<Slot> slots, int port) {
        this.slots = slots;
        this.port = port;
    }

    /**
     * Binds {@code count} slots on {@code address:port} ({@code port} 0 picks one free port for all).
     *
     * @throws BindFailure naming the protocol, address and the likely fix; nothing stays open
     */
    static SlotSockets bind(InetAddress address, int port, int count, int tcpBacklog, int udpBuffer) {
        // Port 0: the kernel picks a free UDP port, but the same number may be taken on TCP; try a few.
        for (int attempt = 1; ; attempt++) {
            try {
                return bindOnce(address, port, count, tcpBacklog, udpBuffer);
            } catch (BindFailure e) {
                if (port != 0 || attempt >= 20 || !e.getMessage().contains("address already in use")) {
                    throw e;
                }
            }
        }
    }

    private static SlotSockets bindOnce(InetAddress address, int port, int count, int tcpBacklog, int udpBuffer) {
        Epoll.ensureAvailability(); // loads the native code the raw sockets need
        List<Slot> slots = new ArrayList<>(count);
        int actualPort = port;
        try {
            for (int i = 0; i < count; i++) {
                Socket udp = Socket.newSocketDgram();
                Socket tcp = null;
                try {
                    udp.setReusePort(true);
                    udp.setReceiveBufferSize(udpBuffer);
                    udp.setSendBufferSize(udpBuffer);
                    bind(udp, "UDP", new InetSocketAddress(address, actualPort));
                    actualPort = ((InetSocketAddress) udp.localAddress()).getPort();
                    tcp = Socket.newSocketStream();
                    tcp.setReusePort(true);
                    bind(tcp, "TCP", new InetSocketAddress(address, actualPort));
                    tcp.listen(tcpBacklog);
                } catch (IOException | RuntimeException e) {
                    closeQuietly(udp);
                    closeQuietly(tcp);
                    throw e;
                }
                slots.add(new Slot(i, udp, tcp));
            }
        } catch (IOException e) {
            slots.forEach(s -> {
                closeQuietly(s.udp());
                closeQuietly(s.tcp());
            });
            throw new BindFailure(e.getMessage(), e);
        } catch (RuntimeException e) {
            slots.forEach(s -> {
                closeQuietly(s.udp());
                closeQuietly(s.tcp());
            });
            throw e;
        }
        return new SlotSockets(List.copyOf(slots), actualPort);
    }

    /**
     * Binds {@code address:port} once without {@code SO_REUSEPORT}, UDP then TCP, and closes the sockets again: this
     * fails while any other socket holds the port, even one with {@code SO_REUSEPORT} of this user (which the real
     * bind would join silently).
     *
     * @throws BindFailure with the same message as a failed bind
     */
    static void probe(InetAddress address, int port) {
        Epoll.ensureAvailability();
        Socket udp = null;
        Socket tcp = null;
        try {
            udp = Socket.newSocketDgram();
            bind(udp, "UDP", new InetSocketAddress(address, port));
            tcp = Socket.newSocketStream();
            // Connections of an earlier run in TIME_WAIT must not look like a listener: only a listener conflicts.
            tcp.setReuseAddress(true);
            bind(tcp, "TCP", new InetSocketAddress(address, port));
        } catch (IOException e) {
            throw new BindFailure(e.getMessage(), e);
        } finally {
            closeQuietly(udp);
            closeQuietly(tcp);
        }
    }

    private static void bind(Socket socket, String protocol, InetSocketAddress address) throws IOException {
        try {
            socket.bind(address);
        } catch (IOException e) {
            throw new IOException("failed to bind " + protocol + " " + format(address) + ": " + explain(e), e);
        }
    }

    static String explain(IOException e) {
        String message = String.valueOf(e.getMessage()).toLowerCase(Locale.ROOT);
        if (message.contains("address already in use")) {
            return "address already in use (another process holds this port: stop it or choose another --port)";
        }
        if (message.contains("permission denied")) {
            return "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE; choose a port >= 1024)";
        }
        if (message.contains("cannot assign requested address")) {
            return "cannot assign requested address (no interface of this machine has that address: check "
                    + "--address)";
        }
        return e.getMessage();
    }

    private static String format(InetSocketAddress address) {
        String host = address.getAddress().getHostAddress();
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + address.getPort();
    }

    int port() {
        return port;
    }

    int size() {
        return slots.size();
    }

    Slot slot(int index) {
        return slots.get(index);
    }

    @Override
    public void close() {
        for (Slot slot : slots) {
            closeQuietly(slot.udp());
            closeQuietly(slot.tcp());
        }
    }

    private static void closeQuietly(Socket socket) {
        if (socket != null) {
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing at shutdown: nothing to do about it
            }
        }
    }

    /** A slot socket could not be bound; the message names protocol, address and fix. */
    static final class BindFailure extends RuntimeException {
        private static final long serialVersionUID = 1L;

        BindFailure(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
