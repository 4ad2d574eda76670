package dev.quicfleet.ticketcache;

import net.openhft.chronicle.core.io.ClosedIllegalStateException;
import net.openhft.chronicle.bytes.RandomDataInput;
import net.openhft.chronicle.hash.Data;
import net.openhft.chronicle.hash.SegmentLock;
import net.openhft.chronicle.hash.locks.InterProcessLock;
import net.openhft.chronicle.map.ChronicleMap;
import net.openhft.chronicle.map.ChronicleMapBuilder;
import net.openhft.chronicle.map.ExternalMapQueryContext;
import net.openhft.chronicle.map.MapEntry;
import net.openhft.chronicle.map.MapSegmentContext;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * One generation of the shared map: a Chronicle Map file whose every access takes its segment lock with a bounded
 * wait and reports "busy" instead of waiting longer.
 *
 * <p>Why not Chronicle's own waits: {@code lock()} spins for up to 60 s ({@code lockTimeoutSeconds}) before it gives
 * up, and its timed {@code tryLock(time, unit)} registers the caller as a waiter in the shared lock word while it
 * waits; a waiter killed by SIGKILL is never deregistered and blocks every reader of that segment for good. So every
 * lock here is taken explicitly with the non-registering {@code tryLock()}, retried until a deadline, before the
 * context does anything that would lock implicitly. One lock escapes this: Chronicle takes its map-wide lock itself,
 * with a 2 s spin, to allocate an overflow tier when a segment's first tier is full. That section lasts microseconds
 * and is rare in a map sized for its peak ({@link SharedSecretsConfig#replayCapacity()}); a process killed inside it
 * makes later overflow allocations fail after that spin, reported as {@link ReplayCheck#FULL}.
 *
 * <p>Entries: the key schedule under the one-byte key {@code 'K'}; replay-register entries under {@code 'R'} followed
 * by the client random, with the expiry (epoch milliseconds) as the 8-byte value.
 *
 * <p>Processes that stop using a generation {@link #retire()} it; it is closed once no thread is inside an
 * operation, so a thread never touches unmapped memory.
 *
 * <h2>Damage</h2>
 * The file is mapped shared: if anyone truncates it, touching a page past the new end raises SIGBUS, which kills
 * the JVM (or, in some compiled code, surfaces as an {@code InternalError} per access). So every operation first
 * compares the file's size (an {@code fstat} of the mapped inode, about a microsecond) with the largest size this
 * process has seen, and refuses to touch a map that shrank; {@link #damage()} also compares the magic and Chronicle's
 * self-describing header with the bytes the file had when this process mapped it. A damaged map stays damaged: it
 * answers "busy" / {@link ReplayCheck#UNAVAILABLE} until its users move to the owner's next generation. Closing it
 * is safe (unmapping touches no page). A truncation in the microseconds between the check and the access cannot be
 * caught; the check makes the window that small.
 */
final class SecretsMap {

    static final byte[] SCHEDULE_KEY = {'K'};
    private static final byte REPLAY_PREFIX = 'R';
    static final int MAX_REPLAY_ID_LENGTH = 64;

    private static final int RETIRED = 1 << 29;
    private static final int CLOSED = 1 << 30;
    private static final int SPINS_BEFORE_PARKING = 100;
    private static final long PARK_NANOS = 20_000;

    private final ChronicleMap<byte[], byte[]> map;
    private final long generation;
    private final Path file;
    private final AtomicInteger users = new AtomicInteger();
    /**
     * The mapped inode, open for {@code fstat} and reads. A {@link RandomAccessFile}, not a {@code FileChannel}: an
     * interrupted thread would close a channel under every other thread.
     */
    private final RandomAccessFile guard;
    /** The file's identity (device and inode) when mapped: tells a file put in its place from the mapped one. */
    private final Object fileKey;
    /** Magic and Chronicle's header: written once at creation, never changed while the file is in use. */
    private final byte[] header;
    /** The largest size seen; Chronicle only grows the file (overflow tiers), so any shrinking is damage. */
    private volatile long size;
    private volatile MapDamage.Found damage;

    private SecretsMap(ChronicleMap<byte[], byte[]> map, long generation, Path file) throws IOException {
        this.map = map;
        this.generation = generation;
        this.file = file;
        RandomAccessFile opened = new RandomAccessFile(file.toFile(), "r");
        try {
            this.fileKey = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
            this.size = opened.length();
            this.header = readHeader(opened);
        } catch (IOException | RuntimeException e) {
            opened.close();
            throw e;
        }
        this.guard = opened;
    }

    /** What a bounded read found. */
    sealed interface Read {
        /** The entry exists; here is its value. */
        record Found(byte[] value) implements Read {
        }

        /** No such entry. */
        record Absent() implements Read {
        }

        /** The segment lock could not be taken in time. */
        record Busy() implements Read {
        }
    }

    /**
     * Creates the file of a new generation: first an empty file with mode 0600 (Chronicle would create it with the
     * process umask, typically 0644, and it holds key material), then the map inside it.
     *
     * @param capacity replay entries the map is sized for; Chronicle may grow to {@code maxBloatFactor} times that
     */
    static SecretsMap create(Path file, long generation, long capacity) throws IOException {
        Files.createFile(file, SecretsDirectory.privateFile());
        try {
            ChronicleMap<byte[], byte[]> map = ChronicleMapBuilder.of(byte[].class, byte[].class)
                    .name("quicfleet-secrets-g" + generation)
                    .entries(capacity + 1)
                    .averageKeySize(1 + 32)
                    .averageValueSize(Long.BYTES)
                    .maxBloatFactor(2)
                    .createPersistedTo(file.toFile());
            try {
                return new SecretsMap(map, generation, file);
            } catch (IOException | RuntimeException e) {
                map.close();
                throw e;
            }
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(file);
            throw new IOException("failed to create shared map " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Opens an existing generation; never creates one (a process that is not the owner must not write a map that
     * readers would then trust).
     */
    static SecretsMap open(Path file, long generation) throws IOException {
        return open(file, generation, 0);
    }

    /**
     * Opens an existing generation that its owner created with {@code createdSize} bytes (0: unknown), refusing a
     * file that is smaller: Chronicle would map it and fault on the missing pages.
     */
    static SecretsMap open(Path file, long generation, long createdSize) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString(), null, "no such shared map");
        }
        checkComplete(file);
        long actual = Files.size(file);
        if (actual < createdSize) {
            throw new IOException("shared map " + file + " was truncated (" + actual + " bytes, created with "
                    + createdSize + ")");
        }
        ChronicleMap<byte[], byte[]> map;
        try {
            map = ChronicleMapBuilder.of(byte[].class, byte[].class).createPersistedTo(file.toFile());
        } catch (IOException | RuntimeException e) {
            throw new IOException("failed to open shared map " + file + ": " + e.getMessage(), e);
        }
        try {
            return new SecretsMap(map, generation, file);
        } catch (IOException | RuntimeException e) {
            map.close();
            throw new IOException("failed to open shared map " + file + ": " + e.getMessage(), e);
        }
    }

    /** The file's size when this process mapped it (or last saw it grow). */
    long size() {
        return size;
    }

    /**
     * What is wrong with this generation's file, if anything: shrunk, header overwritten, or (for the owner, who
     * keeps the path valid for new processes) deleted or replaced by another file. Reads the file, never the map.
     * Once damaged (truncated or overwritten), always damaged.
     */
    Optional<MapDamage.Found> damage() {
        MapDamage.Found found = damage;
        if (found != null) {
            return Optional.of(found);
        }
        found = examine();
        if (found != null && (found.kind() == MapDamage.TRUNCATED || found.kind() == MapDamage.OVERWRITTEN)) {
            damage = found;
        }
        return Optional.ofNullable(found);
    }

    /** Whether the mapping may not be touched any more (the file shrank or was overwritten). */
    boolean unsafe() {
        return damage != null || shrank();
    }

    private MapDamage.Found examine() {
        if (shrank()) {
            return damage;
        }
        try {
            byte[] now;
            synchronized (guard) {
                now = readHeader(guard);
            }
            if (!Arrays.equals(now, header)) {
                return new MapDamage.Found(MapDamage.OVERWRITTEN, file, "its Chronicle Map header was overwritten");
            }
        } catch (IOException e) {
            return new MapDamage.Found(MapDamage.OVERWRITTEN, file, "its header is unreadable (" + e.getMessage()
                    + ")");
        }
        BasicFileAttributes attributes;
        try {
            attributes = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return new MapDamage.Found(MapDamage.DELETED, file, Files.isDirectory(file.getParent())
                    ? "it was deleted" : "its directory " + file.getParent() + " was deleted");
        } catch (IOException e) {
            return new MapDamage.Found(MapDamage.DELETED, file, "it is unreachable (" + e.getMessage() + ")");
        }
        if (!fileKey.equals(attributes.fileKey())) {
            return new MapDamage.Found(MapDamage.REPLACED, file, "another file was put in its place");
        }
        return null;
    }

    /** An {@code fstat} of the mapped inode: true (and remembered) if the file is smaller than ever seen. */
    private boolean shrank() {
        if (damage != null) {
            return true;
        }
        long now;
        try {
            now = guard.length();
        } catch (IOException e) {
            damage = new MapDamage.Found(MapDamage.OVERWRITTEN, file, "its size is unreadable (" + e.getMessage()
                    + ")");
            return true;
        }
        long seen = size;
        if (now < seen) {
            damage = new MapDamage.Found(MapDamage.TRUNCATED, file, "it was truncated from " + seen + " to " + now
                    + " bytes");
            return true;
        }
        if (now > seen) {
            size = now;
        }
        return false;
    }

    /** The first 12 bytes (magic and header length) and Chronicle's self-describing header after them. */
    private static byte[] readHeader(RandomAccessFile file) throws IOException {
        byte[] prefix = new byte[12];
        file.seek(0);
        file.readFully(prefix);
        int length = ByteBuffer.wrap(prefix, 8, 4).order(ByteOrder.LITTLE_ENDIAN).getInt() & 0x7fff_ffff;
        if (length > 1 << 20) {
            throw new IOException("header length " + length + " out of range");
        }
        byte[] header = Arrays.copyOf(prefix, 12 + length);
        file.readFully(header, 12, length);
        return header;
    }

    long generation() {
        return generation;
    }

    Path file() {
        return file;
    }

    int segments() {
        return map.segments();
    }

    /** The published key schedule, as stored. */
    Read readSchedule(long waitNanos) {
        if (!enter()) {
            return new Read.Busy();
        }
        long deadline = System.nanoTime() + waitNanos;
        try (ExternalMapQueryContext<byte[], byte[], ?> context = map.queryContext(SCHEDULE_KEY)) {
            if (!tryLock(context.readLock(), deadline)) {
                return new Read.Busy();
            }
            MapEntry<byte[], byte[]> entry = context.entry();
            // get() may hand out an array the context reuses for its next read: copy it before leaving the context.
            return entry == null ? new Read.Absent() : new Read.Found(entry.value().get().clone());
        } finally {
            exit();
        }
    }

    /** Replaces the published key schedule; false if the segment lock could not be taken in time. */
    boolean writeSchedule(byte[] schedule, long waitNanos) {
        if (!enter()) {
            return false;
        }
        long deadline = System.nanoTime() + waitNanos;
        try (ExternalMapQueryContext<byte[], byte[], ?> context = map.queryContext(SCHEDULE_KEY)) {
            if (!tryLock(context.writeLock(), deadline)) {
                return false;
            }
            MapEntry<byte[], byte[]> entry = context.entry();
            if (entry == null) {
                context.insert(context.absentEntry(), context.wrapValueAsData(schedule));
            } else {
                context.replaceValue(entry, context.wrapValueAsData(schedule));
            }
            return true;
        } finally {
            exit();
        }
    }

    /**
     * Records {@code id} with its expiry unless a live record exists: "put if absent", where an expired record that
     * the sweep has not removed yet counts as absent.
     */
    ReplayCheck firstUse(byte[] id, long expiresAtMillis, long nowMillis, long waitNanos) {
        if (!enter()) {
            return ReplayCheck.UNAVAILABLE;
        }
        long deadline = System.nanoTime() + waitNanos;
        try (ExternalMapQueryContext<byte[], byte[], ?> context = map.queryContext(replayKey(id))) {
            // Straight to the write lock: the common case is a new id, which needs it anyway.
            if (!tryLock(context.writeLock(), deadline)) {
                return ReplayCheck.UNAVAILABLE;
            }
            MapEntry<byte[], byte[]> entry = context.entry();
            byte[] expiry = millis(expiresAtMillis);
            if (entry == null) {
                context.insert(context.absentEntry(), context.wrapValueAsData(expiry));
                return ReplayCheck.FIRST_USE;
            }
            if (expiry(entry.value()) > nowMillis) {
                return ReplayCheck.REPLAYED;
            }
            context.replaceValue(entry, context.wrapValueAsData(expiry));
            return ReplayCheck.FIRST_USE;
        } catch (ClosedIllegalStateException e) {
            return ReplayCheck.UNAVAILABLE;
        } catch (IllegalStateException e) {
            // Chronicle's verdict when no more tiers can be allocated: the map is at maxBloatFactor.
            return ReplayCheck.FULL;
        } finally {
            exit();
        }
    }

    /**
     * Removes the expired replay records of one segment and counts the live ones.
     *
     * @return {@code {removed, retained}}, or empty if the segment lock could not be taken in time
     */
    Optional<long[]> sweepSegment(int segment, long nowMillis, long waitNanos) {
        if (!enter()) {
            return Optional.empty();
        }
        long deadline = System.nanoTime() + waitNanos;
        try (MapSegmentContext<byte[], byte[], ?> context = map.segmentContext(segment)) {
            if (!tryLock(segmentLock(context).writeLock(), deadline)) {
                return Optional.empty();
            }
            long[] counts = new long[2];
            // Reads the prefix and the expiry in place: no arrays per entry, so the lock is held for less time.
            context.forEachSegmentEntry(entry -> {
                if (prefix(entry.key()) != REPLAY_PREFIX) {
                    return;
                }
                if (expiry(entry.value()) <= nowMillis) {
                    entry.doRemove();
                    counts[0]++;
                } else {
                    counts[1]++;
                }
            });
            return Optional.of(counts);
        } finally {
            exit();
        }
    }

    /** One replay-register entry. */
    record ReplayRecord(byte[] id, long expiresAtMillis) {
    }

    /** The live replay records of one segment, or empty if its lock stays taken. */
    Optional<List<ReplayRecord>> replayRecords(int segment, long nowMillis, long waitNanos) {
        if (!enter()) {
            return Optional.empty();
        }
        long deadline = System.nanoTime() + waitNanos;
        try (MapSegmentContext<byte[], byte[], ?> context = map.segmentContext(segment)) {
            // Iterating needs the update lock (readers may go on; writers wait).
            if (!tryLock(segmentLock(context).updateLock(), deadline)) {
                return Optional.empty();
            }
            List<ReplayRecord> records = new ArrayList<>();
            context.forEachSegmentEntry(entry -> {
                if (prefix(entry.key()) != REPLAY_PREFIX) {
                    return;
                }
                long expiresAt = expiry(entry.value());
                if (expiresAt > nowMillis) {
                    byte[] key = entry.key().get();
                    records.add(new ReplayRecord(Arrays.copyOfRange(key, 1, key.length), expiresAt));
                }
            });
            return Optional.of(records);
        } finally {
            exit();
        }
    }

    /**
     * Stops new operations (idempotent); the map is closed by {@link #closeIfIdle()} once running ones have finished.
     */
    void retire() {
        users.updateAndGet(count -> count >= RETIRED ? count : count + RETIRED);
    }

    /** Closes a retired map if no thread is inside an operation; true once closed. */
    boolean closeIfIdle() {
        if (users.get() == CLOSED) {
            return true;
        }
        if (users.compareAndSet(RETIRED, CLOSED)) {
            // Unmapping touches no page, so a truncated map closes safely too.
            map.close();
            try {
                guard.close();
            } catch (IOException e) {
                // read-only descriptor: nothing was lost
            }
            return true;
        }
        return false;
    }

    @Override
    public String toString() {
        return "SecretsMap[generation=" + generation + ", file=" + file + "]";
    }

    private boolean enter() {
        if (users.incrementAndGet() >= RETIRED) {
            users.decrementAndGet();
            return false;
        }
        if (shrank()) {
            // Touching the mapping now could raise SIGBUS: answer as if the lock were taken.
            users.decrementAndGet();
            return false;
        }
        return true;
    }

    private void exit() {
        users.decrementAndGet();
    }

    /**
     * Takes {@code lock} by retrying the non-registering {@code tryLock()} until {@code deadline} (a
     * {@link System#nanoTime()} value): spin briefly, as locks are held for microseconds, then park between tries so
     * a wedged lock costs little CPU.
     */
    private static boolean tryLock(InterProcessLock lock, long deadline) {
        for (int attempt = 0; ; attempt++) {
            try {
                if (lock.tryLock()) {
                    return true;
                }
            } catch (IllegalMonitorStateException e) {
                // A lock word no live process could have produced (e.g. the reader count at its limit): wedged.
                return false;
            }
            if (System.nanoTime() - deadline >= 0) {
                return false;
            }
            if (attempt < SPINS_BEFORE_PARKING) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(PARK_NANOS);
            }
        }
    }

    private static SegmentLock segmentLock(MapSegmentContext<byte[], byte[], ?> context) {
        if (context instanceof SegmentLock lock) {
            return lock;
        }
        throw new IllegalStateException("Chronicle Map segment context " + context.getClass().getName()
                + " exposes no segment lock (expected: net.openhft.chronicle.hash.SegmentLock)");
    }

    /**
     * Refuses a file whose Chronicle header is not marked complete: Chronicle would wait a minute for its creator to
     * finish (it treats such a file as being written), while here it can only be corrupt, since the owner points
     * readers at a generation only after creating it. The mark is the top bit of the little-endian size word at
     * offset 8 ({@code SizePrefixedBlob.NOT_COMPLETE}).
     */
    static void checkComplete(Path file) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer header = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
            while (header.hasRemaining() && channel.read(header) >= 0) {
                // Read until the 12 bytes are in or the file ends.
            }
            if (header.hasRemaining() || (header.getInt(8) & 0x8000_0000) != 0) {
                throw new IOException("shared map " + file + " is not a complete Chronicle Map file");
            }
        }
    }

    static byte[] replayKey(byte[] id) {
        if (id.length == 0 || id.length > MAX_REPLAY_ID_LENGTH) {
            throw new IllegalArgumentException("replay id: " + id.length + " bytes (expected: 1.."
                    + MAX_REPLAY_ID_LENGTH + ")");
        }
        byte[] key = new byte[1 + id.length];
        key[0] = REPLAY_PREFIX;
        System.arraycopy(id, 0, key, 1, id.length);
        return key;
    }

    private static byte[] millis(long millis) {
        return ByteBuffer.allocate(Long.BYTES).putLong(millis).array();
    }

    private static byte prefix(Data<byte[]> key) {
        return key.bytes().readByte(key.offset());
    }

    /** The big-endian expiry {@link #millis(long)} wrote, read where it lies in the map. */
    private static long expiry(Data<byte[]> value) {
        RandomDataInput bytes = value.bytes();
        long offset = value.offset();
        long millis = 0;
        for (int i = 0; i < Long.BYTES; i++) {
            millis = millis << 8 | (bytes.readByte(offset + i) & 0xff);
        }
        return millis;
    }
}
