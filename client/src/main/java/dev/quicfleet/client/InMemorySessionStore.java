package dev.quicfleet.client;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/** {@link SessionStore#inMemory()}: per server, the newest {@code perServer} tickets; the newest is never removed. */
final class InMemorySessionStore implements SessionStore {

    private final int perServer;
    private final Map<String, Deque<SessionTicket>> tickets = new HashMap<>();

    InMemorySessionStore(int perServer) {
        this.perServer = perServer;
    }

    @Override
    public synchronized Optional<SessionTicket> take(String host, int port) {
        Deque<SessionTicket> deque = tickets.get(key(host, port));
        if (deque == null) {
            return Optional.empty();
        }
        long now = System.currentTimeMillis();
        deque.removeIf(t -> t.isExpired(now));
        // Fresh tickets first, one per connection; the last one is reused rather than dropped.
        return Optional.ofNullable(deque.size() > 1 ? deque.pollFirst() : deque.peekFirst());
    }

    @Override
    public synchronized void put(SessionTicket ticket) {
        Deque<SessionTicket> deque = tickets.computeIfAbsent(key(ticket.host(), ticket.port()), k -> new ArrayDeque<>());
        deque.addFirst(ticket);
        while (deque.size() > perServer) {
            deque.pollLast();
        }
    }

    static String key(String host, int port) {
        return host.toLowerCase(Locale.ROOT) + ":" + port;
    }
}
