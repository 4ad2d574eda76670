package dev.quicfleet.client;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClientSessionStoreTest {

    @TempDir
    Path tmp;

    private static SessionTicket ticket(String host, int port, int marker) {
        return new SessionTicket(host, port, new byte[] {1, 2, (byte) marker}, System.currentTimeMillis(), 60_000);
    }

    @Test
    void fileStoreKeepsTheNewestTicketPerServerForAnotherProcess() throws Exception {
        Path file = tmp.resolve("sessions");
        SessionStore a = SessionStore.file(file);
        a.put(ticket("localhost", 4433, 1));
        a.put(ticket("localhost", 4433, 2));
        a.put(ticket("example.org", 443, 3));
        SessionStore b = SessionStore.file(file);
        assertThat(b.take("LOCALHOST", 4433).orElseThrow().session()).containsExactly(1, 2, 2);
        assertThat(b.take("example.org", 443).orElseThrow().session()).containsExactly(1, 2, 3);
        assertThat(b.take("localhost", 4434)).isEmpty();
        assertThat(Files.getPosixFilePermissions(file))
                .isEqualTo(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE));
        assertThat(Files.readString(file)).doesNotContain("\u0001");
    }

    @Test
    void fileStoreSkipsExpiredAndDamagedLines() throws Exception {
        Path file = tmp.resolve("sessions");
        Files.writeString(file, "garbage\nquicfleet-session-v1 localhost 4433 1000 1000 AQID\n");
        assertThat(SessionStore.file(file).take("localhost", 4433)).isEmpty();
    }

    @Test
    void memoryStoreHandsOutFreshTicketsFirstAndKeepsTheLastForReuse() {
        SessionStore store = SessionStore.inMemory();
        store.put(ticket("h", 1, 1));
        store.put(ticket("h", 1, 2));
        assertThat(store.take("h", 1).orElseThrow().session()[2]).isEqualTo((byte) 2);
        assertThat(store.take("h", 1).orElseThrow().session()[2]).isEqualTo((byte) 1);
        assertThat(store.take("h", 1).orElseThrow().session()[2]).isEqualTo((byte) 1);
        assertThat(store.take("other", 1)).isEmpty();
    }

    @Test
    void ticketNeverPrintsItsSecret() {
        assertThat(ticket("h", 1, 9).toString()).doesNotContain("[1, 2").contains("3 bytes");
    }
}
