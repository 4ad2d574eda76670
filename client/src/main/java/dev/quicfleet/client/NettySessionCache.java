package dev.quicfleet.client;

import io.netty.handler.codec.quic.QuicSslContext;
import io.netty.handler.codec.quic.QuicSslEngine;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.util.Map;

/**
 * The one place that reaches into Netty's QUIC client session cache, which Netty 4.2 keeps package-private.
 *
 * <p>Netty stores the ticket a server sends under the engine's peer host and port, and before a connection starts
 * it takes whatever ticket is stored under that key. A plain host+port key lets concurrent connections to one server
 * steal each other's tickets and offers no way to read a ticket out (to save it in a file) or put one in (from a
 * file). So each connection's engine gets a key of its own: the real host (SNI and certificate checks use it) and a
 * unique negative "port" ({@link #nextKey()}) that no real server has. Before the connection starts, its ticket is put
 * under that key; when it closes, the newest ticket the server sent is taken from under that key.
 *
 * <p>Reflection works because Netty is loaded from the class path (the unnamed module). If a Netty upgrade renames
 * these internals, {@link #available()} is false and the client runs without resumption instead of failing.
 */
final class NettySessionCache {

    private static final Method GET_CACHE;
    private static final Method SAVE;
    private static final Method REMOVE;
    private static final Method KEY_FOR;
    private static final Field SESSIONS;
    private static final Field CREATED;
    private static final Field TIMEOUT;
    private static final Field BYTES;
    private static final Method IS_REUSED;
    private static final Throwable UNAVAILABLE;

    static {
        Method getCache = null;
        Method save = null;
        Method remove = null;
        Method keyFor = null;
        Field sessions = null;
        Field created = null;
        Field timeout = null;
        Field bytes = null;
        Method isReused = null;
        Throwable failure = null;
        try {
            Class<?> context = Class.forName("io.netty.handler.codec.quic.QuicheQuicSslContext");
            Class<?> cache = Class.forName("io.netty.handler.codec.quic.QuicClientSessionCache");
            Class<?> holder = Class.forName("io.netty.handler.codec.quic.QuicClientSessionCache$SessionHolder");
            Class<?> engine = Class.forName("io.netty.handler.codec.quic.QuicheQuicSslEngine");
            getCache = accessible(context.getDeclaredMethod("getSessionCache"));
            save = accessible(cache.getDeclaredMethod("saveSession", String.class, int.class, long.class, long.class,
                    byte[].class, boolean.class));
            remove = accessible(cache.getDeclaredMethod("removeSession", String.class, int.class));
            keyFor = accessible(cache.getDeclaredMethod("keyFor", String.class, int.class));
            sessions = accessible(cache.getDeclaredField("sessions"));
            created = accessible(holder.getDeclaredField("creationTime"));
            timeout = accessible(holder.getDeclaredField("timeout"));
            bytes = accessible(holder.getDeclaredField("sessionBytes"));
            isReused = accessible(engine.getDeclaredMethod("isSessionReused"));
        } catch (ReflectiveOperationException | RuntimeException e) {
            failure = e;
        }
        GET_CACHE = getCache;
        SAVE = save;
        REMOVE = remove;
        KEY_FOR = keyFor;
        SESSIONS = sessions;
        CREATED = created;
        TIMEOUT = timeout;
        BYTES = bytes;
        IS_REUSED = isReused;
        UNAVAILABLE = failure;
    }

    private static int keys;

    private final Object cache;

    NettySessionCache(QuicSslContext context) {
        Object c = null;
        if (UNAVAILABLE == null) {
            try {
                c = GET_CACHE.invoke(context);
            } catch (ReflectiveOperationException e) {
                c = null;
            }
        }
        this.cache = c;
    }

    /** Whether tickets can be put and taken; false if Netty's internals changed. */
    boolean available() {
        return cache != null;
    }

    /** Why {@link #available()} is false, or null. */
    static Throwable unavailabilityCause() {
        return UNAVAILABLE;
    }

    /** A key no other connection of this JVM uses: negative, so it never equals a real port. */
    static synchronized int nextKey() {
        keys = keys == Integer.MAX_VALUE ? 1 : keys + 1;
        return -keys;
    }

    /** Stores {@code ticket} under {@code host}/{@code key}, where the next connection with that key takes it. */
    void put(String host, int key, SessionTicket ticket) {
        if (cache == null) {
            return;
        }
        try {
            SAVE.invoke(cache, host, key, ticket.createdMillis(), ticket.timeoutMillis(), ticket.session(), true);
        } catch (ReflectiveOperationException e) {
            // no resumption for this connection
        }
    }

    /**
     * Removes and returns the newest ticket the server sent on the connection with {@code host}/{@code key}, as a
     * ticket for {@code realPort}; null if it sent none (or the one put there was used and not replaced).
     */
    SessionTicket take(String host, int key, int realPort) {
        if (cache == null) {
            return null;
        }
        try {
            @SuppressWarnings("unchecked")
            Map<Object, Object> map = (Map<Object, Object>) SESSIONS.get(cache);
            Object holder;
            synchronized (map) {
                holder = map.get(KEY_FOR.invoke(null, host, key));
            }
            REMOVE.invoke(cache, host, key);
            if (holder == null) {
                return null;
            }
            return new SessionTicket(host, realPort, (byte[]) BYTES.get(holder), CREATED.getLong(holder),
                    TIMEOUT.getLong(holder));
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }

    /** Whether a ticket is stored under {@code host}/{@code key}. */
    boolean has(String host, int key) {
        if (cache == null) {
            return false;
        }
        try {
            @SuppressWarnings("unchecked")
            Map<Object, Object> map = (Map<Object, Object>) SESSIONS.get(cache);
            synchronized (map) {
                return map.containsKey(KEY_FOR.invoke(null, host, key));
            }
        } catch (ReflectiveOperationException | RuntimeException e) {
            return false;
        }
    }

    /** Forgets whatever is stored under {@code host}/{@code key}. */
    void remove(String host, int key) {
        if (cache == null) {
            return;
        }
        try {
            REMOVE.invoke(cache, host, key);
        } catch (ReflectiveOperationException e) {
            // nothing to forget
        }
    }

    /** Whether the finished handshake of {@code engine} resumed a session; null if Netty does not say. */
    static Boolean resumed(QuicSslEngine engine) {
        if (IS_REUSED == null || !IS_REUSED.getDeclaringClass().isInstance(engine)) {
            return null;
        }
        try {
            return (Boolean) IS_REUSED.invoke(engine);
        } catch (ReflectiveOperationException e) {
            return null;
        }
    }

    private static <T extends java.lang.reflect.AccessibleObject> T accessible(T member) {
        member.setAccessible(true);
        return member;
    }
}
