package dev.quicfleet.client;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * {@link SessionStore#file(Path)}: one line per server, {@code quicfleet-session-v1 HOST PORT CREATED LIFETIME
 * BASE64}. Read on every {@link #take}, rewritten (temp file + rename, mode 0600) on every {@link #put}.
 */
final class FileSessionStore implements SessionStore {

    private static final String MAGIC = "quicfleet-session-v1";

    private final Path file;

    FileSessionStore(Path file) {
        this.file = file.toAbsolutePath();
    }

    @Override
    public synchronized Optional<SessionTicket> take(String host, int port) {
        SessionTicket ticket = read().get(InMemorySessionStore.key(host, port));
        if (ticket == null || ticket.isExpired(System.currentTimeMillis())) {
            return Optional.empty();
        }
        return Optional.of(ticket);
    }

    @Override
    public synchronized void put(SessionTicket ticket) {
        Map<String, SessionTicket> all = read();
        all.put(InMemorySessionStore.key(ticket.host(), ticket.port()), ticket);
        long now = System.currentTimeMillis();
        List<String> lines = new ArrayList<>();
        for (SessionTicket t : all.values()) {
            if (!t.isExpired(now)) {
                lines.add(String.join(" ", MAGIC, t.host(), Integer.toString(t.port()),
                        Long.toString(t.createdMillis()), Long.toString(t.timeoutMillis()),
                        Base64.getEncoder().encodeToString(t.session())));
            }
        }
        try {
            Path dir = file.getParent();
            Path tmp = dir.resolve("." + file.getFileName() + ".tmp");
            Files.deleteIfExists(tmp);
            try {
                Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            } catch (UnsupportedOperationException e) {
                Files.createFile(tmp);
            }
            Files.write(tmp, lines, StandardCharsets.US_ASCII);
            try {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (FileAlreadyExistsException e) {
            throw new UncheckedIOException("cannot write session file " + file + ": a write is in progress", e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write session file " + file + ": " + e, e);
        }
    }

    /** All tickets in the file; a missing file is empty, unreadable lines are skipped. */
    private Map<String, SessionTicket> read() {
        Map<String, SessionTicket> all = new LinkedHashMap<>();
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.US_ASCII);
        } catch (NoSuchFileException e) {
            return all;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read session file " + file + ": " + e, e);
        }
        for (String line : lines) {
            String[] f = line.trim().split(" ");
            if (f.length != 6 || !f[0].equals(MAGIC)) {
                continue;
            }
            try {
                SessionTicket t = new SessionTicket(f[1], Integer.parseInt(f[2]), Base64.getDecoder().decode(f[5]),
                        Long.parseLong(f[3]), Long.parseLong(f[4]));
                all.put(InMemorySessionStore.key(t.host(), t.port()), t);
            } catch (IllegalArgumentException e) {
                // a damaged line costs a full handshake, nothing more
            }
        }
        return all;
    }
}
