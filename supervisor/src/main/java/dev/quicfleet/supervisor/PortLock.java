package dev.quicfleet.supervisor;

import dev.quicfleet.transport.ControlProtocol;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.locks.LockSupport;

/**
 * One cluster per port. The supervisor's sockets use {@code SO_REUSEPORT}, which lets any process of the same user
 * bind the same port and take a share of its packets: a second supervisor (with another control socket and shared
 * map) would start silently, take half the traffic and break the first cluster's QUIC connections. So before it
 * binds, a supervisor
 * <ol>
 *   <li>takes {@code port-PORT.lock} in the runtime directory (beside the default control socket, whatever
 *       {@code --control-socket} says): held by a live supervisor of this user, the port is another cluster's. The
 *       kernel drops the lock when its holder dies, however it dies;</li>
 *   <li>binds the port once without {@code SO_REUSEPORT} (UDP, then TCP) and closes it again: that fails while any
 *       socket holds the port, whoever's it is. Workers of a supervisor killed a moment ago hold its sockets while
 *       they drain (at most 2 s), so a failing probe is retried for {@link #ORPHAN_GRACE} first.</li>
 * </ol>
 * The supervisor's own reloads and respawns never bind again (workers get the slot sockets it already has), so
 * the lock is taken once, at start, and held until the supervisor exits.
 */
final class PortLock implements AutoCloseable {

    /** How long a busy port is probed again: orphaned workers of a killed supervisor exit within 2 s. */
    static final Duration ORPHAN_GRACE = Duration.ofMillis(3000);

    private final FileLock lock;

    private PortLock(FileLock lock) {
        this.lock = lock;
    }

    /** {@code port-PORT.lock} in the directory of {@link ControlProtocol#defaultSocket(int)}. */
    static Path file(int port) {
        return ControlProtocol.defaultSocket(port).resolveSibling("port-" + port + ".lock");
    }

    /**
     * Takes the port's lock and checks that no other socket holds the port.
     *
     * @param probe whether to probe by binding without {@code SO_REUSEPORT} (false for a port the kernel just
     *              picked for these sockets)
     * @throws SlotSockets.BindFailure with the one line to report: the other cluster's supervisor pid and what to do,
     *                                 or the bind error
     */
    static PortLock acquire(InetAddress address, int port, boolean probe) {
        Path file = file(port);
        FileLock lock;
        try {
            Path dir = file.getParent();
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(
                    "rwx------")));
            FileChannel channel = FileChannel.open(file, Set.of(StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(
                    "rw-------")));
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) {
                String holder = holder(channel);
                channel.close();
                throw new SlotSockets.BindFailure("port " + port + " is in use by another quicfleet cluster ("
                        + holder + "; lock " + file + "): stop that supervisor (supervisor status --port " + port
                        + " shows it) or choose another --port", null);
            }
        } catch (IOException e) {
            throw new SlotSockets.BindFailure("cannot take the port lock " + file + ": " + e.getMessage()
                    + " (expected: a runtime directory this user can write; set XDG_RUNTIME_DIR)", e);
        }
        try {
            if (probe) {
                probe(address, port);
            }
            FileChannel channel = lock.channel();
            channel.truncate(0);
            channel.write(ByteBuffer.wrap(("pid " + ProcessHandle.current().pid() + "\n")
                    .getBytes(StandardCharsets.US_ASCII)), 0);
            return new PortLock(lock);
        } catch (IOException | RuntimeException e) {
            try {
                lock.channel().close();
            } catch (IOException ignored) {
                // already failing
            }
            if (e instanceof SlotSockets.BindFailure failure) {
                throw failure;
            }
            throw new SlotSockets.BindFailure("cannot take the port lock " + file + ": " + e.getMessage(), e);
        }
    }

    /** Binds without SO_REUSEPORT, retrying while orphaned workers may still hold the port. */
    private static void probe(InetAddress address, int port) {
        long deadline = System.nanoTime() + ORPHAN_GRACE.toNanos();
        while (true) {
            try {
                SlotSockets.probe(address, port);
                return;
            } catch (SlotSockets.BindFailure e) {
                if (System.nanoTime() - deadline >= 0 || !e.getMessage().contains("address already in use")) {
                    throw e;
                }
                LockSupport.parkNanos(Duration.ofMillis(100).toNanos());
            }
        }
    }

    /** What the lock's holder wrote: "supervisor pid N", or that it is unknown. */
    private static String holder(FileChannel channel) {
        try {
            ByteBuffer buffer = ByteBuffer.allocate(64);
            channel.read(buffer, 0);
            String text = new String(buffer.array(), 0, buffer.position(), StandardCharsets.US_ASCII).strip();
            return text.matches("pid \\d+") ? "supervisor " + text : "supervisor pid unknown";
        } catch (IOException e) {
            return "supervisor pid unknown";
        }
    }

    @Override
    public void close() {
        // The file stays: deleting it would let a process that opened it just before lock the unlinked inode while
        // a third one locks a new file of the same name.
        try {
            lock.channel().close();
        } catch (IOException ignored) {
            // the kernel releases the lock with the process anyway
        }
    }
}
