package dev.quicfleet.client;

import java.nio.file.Path;
import java.util.Optional;

/**
 * Where the client keeps TLS session tickets between connections, so a later connection to the same server resumes
 * (a shorter handshake, and 0-RTT early data when enabled). Implementations are thread-safe.
 *
 * <p>The client takes a ticket before each connection and puts the newest ticket the server sent when the
 * connection closes. TLS 1.3 tickets are meant for one use; the stores here still keep the newest ticket of a server
 * until a newer one replaces it, so a connection that fails before it gets a new ticket does not lose resumption
 * (servers accept a reused ticket, though a server may refuse 0-RTT on it as a replay).
 */
public interface SessionStore {

    /** A ticket for {@code host:port} that has not expired, if any. */
    Optional<SessionTicket> take(String host, int port);

    /** Keeps {@code ticket} as the newest for its server. */
    void put(SessionTicket ticket);

    /** A store in memory that keeps the newest few tickets per server. */
    static SessionStore inMemory() {
        return new InMemorySessionStore(16);
    }

    /**
     * A store in {@code file} (created with mode 0600, written atomically), so another process resumes later; holds
     * the newest ticket per server. The file holds secrets: anyone who can read it can resume the session.
     */
    static SessionStore file(Path file) {
        return new FileSessionStore(file);
    }

    /** A store that keeps nothing: every connection does a full handshake. */
    static SessionStore none() {
        return new SessionStore() {
            @Override
            public Optional<SessionTicket> take(String host, int port) {
                return Optional.empty();
            }

            @Override
            public void put(SessionTicket ticket) {
            }
        };
    }
}
