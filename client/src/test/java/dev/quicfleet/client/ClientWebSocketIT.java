package dev.quicfleet.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quicfleet.http.websocket.WebSocketMessage;
import dev.quicfleet.worker.ClientTestWorker;
import java.security.MessageDigest;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * WebSocket over HTTP/3 (RFC 9220) with the project's own client against a real worker's {@code /ws/echo}: the only
 * HTTP/3 WebSocket client available here (the HTTP/1.1 and HTTP/2 forms are checked with independent clients in the
 * worker's {@code WebSocketIT}).
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class ClientWebSocketIT {

    private static ClientTestWorker worker;
    private static H3Client client;

    @BeforeAll
    static void start() throws Exception {
        worker = ClientTestWorker.start();
        client = H3Client.builder().trust(worker.certificate()).build();
    }

    @AfterAll
    static void stop() throws Exception {
        if (client != null) {
            client.close();
        }
        if (worker != null) {
            worker.close();
        }
    }

    private static H3WebSocket open(String path) throws Exception {
        H3Connection connection = H3Client.await(client.connect("localhost", worker.port()));
        return H3Client.await(connection.openWebSocket(path));
    }

    @Test
    void echoesTenMegabytesInSmallMessagesByteExact() throws Exception {
        H3WebSocket socket = open("/ws/echo");
        int total = 10 * 1024 * 1024;
        int size = 4096;
        MessageDigest received = MessageDigest.getInstance("SHA-256");
        CompletableFuture<Long> reader = CompletableFuture.supplyAsync(() -> {
            long got = 0;
            try {
                while (got < total) {
                    WebSocketMessage m = socket.receive();
                    if (m == null) {
                        break;
                    }
                    received.update(m.data());
                    got += m.data().length;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return got;
        });
        MessageDigest sent = MessageDigest.getInstance("SHA-256");
        Random random = new Random(14);
        for (int left = total; left > 0; left -= size) {
            byte[] chunk = new byte[Math.min(size, left)];
            random.nextBytes(chunk);
            sent.update(chunk);
            socket.send(WebSocketMessage.binary(chunk));
        }
        assertThat(reader.get(60, TimeUnit.SECONDS)).isEqualTo(total);
        assertThat(received.digest()).isEqualTo(sent.digest());
        socket.close(1000, "");
        assertThat(socket.receive()).isNull();
        assertThat(socket.closeCode()).isEqualTo(1000);
    }

    @Test
    void passesCloseCodesBothWays() throws Exception {
        H3WebSocket clientCloses = open("/ws/echo");
        clientCloses.send(WebSocketMessage.text("hello"));
        assertThat(clientCloses.receive().asText()).isEqualTo("hello");
        clientCloses.close(4000, "client bye");
        assertThat(clientCloses.receive()).isNull();
        assertThat(clientCloses.closeCode()).isEqualTo(4000);

        H3WebSocket serverCloses = open("/ws/echo");
        serverCloses.send(WebSocketMessage.text("close 4321 server bye"));
        assertThat(serverCloses.receive()).isNull();
        assertThat(serverCloses.closeCode()).isEqualTo(4321);
        assertThat(serverCloses.closeReason()).isEqualTo("server bye");
    }

    @Test
    void frameOverTheLimitCloses1009() throws Exception {
        H3WebSocket socket = open("/ws/echo");
        socket.send(WebSocketMessage.binary(new byte[64 * 1024 + 1]));
        assertThat(socket.receive()).isNull();
        assertThat(socket.closeCode()).isEqualTo(1009);
    }
}
