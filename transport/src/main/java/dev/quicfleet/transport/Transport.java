package dev.quicfleet.transport;

import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.nio.NioChannelOption;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringChannelOption;
import io.netty.channel.uring.IoUringDatagramChannel;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.handler.codec.quic.EpollQuicUtils;
import io.netty.handler.codec.quic.SegmentedDatagramPacketAllocator;
import java.net.StandardSocketOptions;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.ThreadFactory;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The I/O transport a worker's event loops run on: Linux io_uring, Linux epoll, or portable NIO.
 *
 * <p>{@link #best()} picks the first available in that order. io_uring batches system calls through shared rings and
 * is the fastest here; epoll is the classic native transport (and the only one with UDP GRO in Netty 4.2); NIO
 * works everywhere but cannot adopt a socket passed in by file descriptor, and has no GSO.
 *
 * <p>Every transport offers what quicfleet needs from it: an event loop group, UDP and TCP listener channels,
 * {@code SO_REUSEPORT}, and (for the native ones) adopting an already bound socket by file descriptor, which is how
 * the supervisor hands each worker its sockets.
 */
public enum Transport {

    /** Linux io_uring (kernel 5.9+; Netty needs 5.14+ for all features). */
    IO_URING("io_uring") {
        @Override
        public boolean isAvailable() {
            return IoUring.isAvailable();
        }

        @Override
        public Throwable unavailabilityCause() {
            return IoUring.unavailabilityCause();
        }

        @Override
        IoHandlerFactory ioHandlerFactory() {
            return IoUringIoHandler.newFactory();
        }

        @Override
        public DatagramChannel newDatagramChannel() {
            return new IoUringDatagramChannel();
        }

        @Override
        public DatagramChannel adoptDatagramChannel(int fd) {
            return new IoUringDatagramChannel(fd);
        }

        @Override
        public ServerSocketChannel newServerSocketChannel() {
            return new IoUringServerSocketChannel();
        }

        @Override
        public ServerSocketChannel adoptServerSocketChannel(int fd) {
            // Netty 4.2.18's IoUringServerSocketChannel has no fd constructor (it needs a non-blocking socket it
            // created itself); epoll can adopt a listening TCP socket.
            throw new UnsupportedOperationException("transport io_uring cannot adopt TCP listening socket fd " + fd
                    + " in Netty 4.2 (expected: epoll for an adopted TCP listener)");
        }

        @Override
        public ChannelOption<Boolean> reusePortOption() {
            return IoUringChannelOption.SO_REUSEPORT;
        }

        @Override
        public SegmentedDatagramPacketAllocator gsoAllocator(int maxSegments) {
            if (maxSegments <= 1 || !IoUringDatagramChannel.isSegmentedDatagramPacketSupported()) {
                return SegmentedDatagramPacketAllocator.NONE;
            }
            return new UnixSegmentedDatagramPacketAllocator(maxSegments);
        }
    },

    /** Linux epoll. */
    EPOLL("epoll") {
        @Override
        public boolean isAvailable() {
            return Epoll.isAvailable();
        }

        @Override
        public Throwable unavailabilityCause() {
            return Epoll.unavailabilityCause();
        }

        @Override
        IoHandlerFactory ioHandlerFactory() {
            return EpollIoHandler.newFactory();
        }

        @Override
        public DatagramChannel newDatagramChannel() {
            return new EpollDatagramChannel();
        }

        @Override
        public DatagramChannel adoptDatagramChannel(int fd) {
            return new EpollDatagramChannel(fd);
        }

        @Override
        public ServerSocketChannel newServerSocketChannel() {
            return new EpollServerSocketChannel();
        }

        @Override
        public ServerSocketChannel adoptServerSocketChannel(int fd) {
            return new EpollServerSocketChannel(fd);
        }

        @Override
        public ChannelOption<Boolean> reusePortOption() {
            return EpollChannelOption.SO_REUSEPORT;
        }

        @Override
        public SegmentedDatagramPacketAllocator gsoAllocator(int maxSegments) {
            return maxSegments <= 1 ? SegmentedDatagramPacketAllocator.NONE
                    : EpollQuicUtils.newSegmentedAllocator(Math.min(maxSegments, 64));
        }
    },

    /** Java NIO: portable, no fd adoption, no GSO. */
    NIO("nio") {
        @Override
        public boolean isAvailable() {
            return true;
        }

        @Override
        public Throwable unavailabilityCause() {
            return null;
        }

        @Override
        IoHandlerFactory ioHandlerFactory() {
            return NioIoHandler.newFactory();
        }

        @Override
        public DatagramChannel newDatagramChannel() {
            return new NioDatagramChannel();
        }

        @Override
        public DatagramChannel adoptDatagramChannel(int fd) {
            throw new UnsupportedOperationException("transport nio cannot adopt socket fd " + fd
                    + " (expected: io_uring or epoll, which can; pick one with --transport)");
        }

        @Override
        public ServerSocketChannel newServerSocketChannel() {
            return new NioServerSocketChannel();
        }

        @Override
        public ServerSocketChannel adoptServerSocketChannel(int fd) {
            throw new UnsupportedOperationException("transport nio cannot adopt socket fd " + fd
                    + " (expected: io_uring or epoll, which can; pick one with --transport)");
        }

        @Override
        public ChannelOption<Boolean> reusePortOption() {
            return NioChannelOption.of(StandardSocketOptions.SO_REUSEPORT);
        }

        @Override
        public SegmentedDatagramPacketAllocator gsoAllocator(int maxSegments) {
            return SegmentedDatagramPacketAllocator.NONE;
        }
    };

    private static final Logger log = LoggerFactory.getLogger(Transport.class);

    private final String id;

    Transport(String id) {
        this.id = id;
    }

    /** The name used on the command line and in logs: {@code io_uring}, {@code epoll} or {@code nio}. */
    public String id() {
        return id;
    }

    /** Whether this transport works in this JVM on this kernel. */
    public abstract boolean isAvailable();

    /** Why {@link #isAvailable()} is false, or {@code null} when it is available. */
    public abstract Throwable unavailabilityCause();

    abstract IoHandlerFactory ioHandlerFactory();

    /** A new, unbound UDP channel of this transport. */
    public abstract DatagramChannel newDatagramChannel();

    /** A UDP channel around an already bound socket {@code fd} (native transports only). */
    public abstract DatagramChannel adoptDatagramChannel(int fd);

    /** A new, unbound TCP listening channel of this transport. */
    public abstract ServerSocketChannel newServerSocketChannel();

    /** A TCP listening channel around an already listening socket {@code fd} (epoll only in Netty 4.2). */
    public abstract ServerSocketChannel adoptServerSocketChannel(int fd);

    /** The option that sets {@code SO_REUSEPORT} on this transport's channels. */
    public abstract ChannelOption<Boolean> reusePortOption();

    /**
     * An allocator that lets QUIC hand the kernel up to {@code maxSegments} packets of one connection in a single
     * UDP GSO send, or {@link SegmentedDatagramPacketAllocator#NONE} where this transport or kernel has no GSO.
     */
    public abstract SegmentedDatagramPacketAllocator gsoAllocator(int maxSegments);

    /** Whether this transport supports UDP generic segmentation offload here. */
    public boolean supportsGso() {
        return gsoAllocator(2) != SegmentedDatagramPacketAllocator.NONE;
    }

    /**
     * A new event loop group of {@code threads} threads on this transport.
     *
     * @throws TransportUnavailableException when this transport is not available here
     */
    public EventLoopGroup newEventLoopGroup(int threads, ThreadFactory threadFactory) {
        require();
        return new MultiThreadIoEventLoopGroup(threads, threadFactory, ioHandlerFactory());
    }

    /**
     * Returns this transport if it is available.
     *
     * @throws TransportUnavailableException naming the cause and the alternatives
     */
    public Transport require() {
        if (!isAvailable()) {
            Throwable cause = unavailabilityCause();
            throw new TransportUnavailableException("transport " + id + " is not available here: "
                    + (cause == null ? "unknown reason" : cause.getMessage())
                    + " (expected one of the available transports: " + available()
                    + "; omit --transport to pick the best)", cause);
        }
        return this;
    }

    /**
     * The best available transport: io_uring, then epoll, then NIO. Logs the choice at INFO and each rejected
     * transport's cause at DEBUG.
     */
    public static Transport best() {
        for (Transport transport : values()) {
            if (transport.isAvailable()) {
                log.info("transport: {} (best available)", transport.id);
                return transport;
            }
            if (log.isDebugEnabled()) {
                log.debug("transport {} unavailable", transport.id, transport.unavailabilityCause());
            }
        }
        throw new AssertionError("NIO is always available");
    }

    /**
     * The transport named {@code id} ({@code io_uring}, {@code epoll}, {@code nio}; case-insensitive; {@code iouring}
     * and {@code io-uring} are accepted too).
     *
     * @throws IllegalArgumentException for an unknown name, listing the valid ones
     */
    public static Transport parse(String id) {
        String key = id.trim().toLowerCase(Locale.ROOT).replace('-', '_');
        if (key.equals("iouring")) {
            key = "io_uring";
        }
        for (Transport transport : values()) {
            if (transport.id.equals(key)) {
                return transport;
            }
        }
        throw new IllegalArgumentException("transport: " + id + " (expected: "
                + Arrays.stream(values()).map(Transport::id).collect(Collectors.joining(", ")) + ")");
    }

    private static String available() {
        return Arrays.stream(values()).filter(Transport::isAvailable).map(Transport::id)
                .collect(Collectors.joining(", "));
    }

    @Override
    public String toString() {
        return id;
    }
}
