package dev.quicfleet.ticketcache;

import net.openhft.chronicle.map.ChronicleMap;
import net.openhft.chronicle.map.ChronicleMapBuilder;
import net.openhft.chronicle.map.ExternalMapQueryContext;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Takes the write lock of the segment that holds {@code key} in a map file and keeps it, as a process that died inside
 * a locked section would: on a thread of its own until {@link #close()} (in-process tests), or until the JVM is killed
 * (the child process of the multi-process tests, which never calls close).
 */
final class LockHolder implements AutoCloseable {

    private final ChronicleMap<byte[], byte[]> map;
    private final CountDownLatch locked = new CountDownLatch(1);
    private final CountDownLatch release = new CountDownLatch(1);
    private final Thread thread;

    LockHolder(Path mapFile, byte[] key) throws IOException, InterruptedException {
        map = ChronicleMapBuilder.of(byte[].class, byte[].class).createPersistedTo(mapFile.toFile());
        thread = Thread.ofPlatform().daemon().name("lock-holder").start(() -> {
            try (ExternalMapQueryContext<byte[], byte[], ?> context = map.queryContext(key)) {
                context.writeLock().lock();
                locked.countDown();
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        if (!locked.await(10, TimeUnit.SECONDS)) {
            throw new IllegalStateException("lock holder did not get the lock in 10 s");
        }
    }

    @Override
    public void close() throws InterruptedException {
        release.countDown();
        thread.join(10_000);
        map.close();
    }
}
