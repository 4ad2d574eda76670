package dev.quicfleet.client;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.quicfleet.http.websocket.WebSocketMessage;
import dev.quicfleet.worker.ClientTestWorker;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
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

    private static final ObjectMapper JSON = new ObjectMapper();

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

    /**
     * Through a worker proxying to a python3-websockets echo server (not written here): the HTTP/3 extended CONNECT
     * becomes an HTTP/1.1 upgrade towards it; messages and close codes pass through both ways.
     */
    @Test
    void throughTheProxyToARealUpstream() throws Exception {
        Path dir = Files.createTempDirectory("quicfleet-ws-upstream-");
        Path script = dir.resolve("ws_upstream.py");
        try (InputStream in = ClientTestWorker.class.getResourceAsStream("websocket/ws_upstream.py")) {
            Files.copy(in, script);
        }
        Process upstream = new ProcessBuilder("/usr/bin/python3", script.toString()).redirectErrorStream(true)
                .start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(upstream.getInputStream(),
                StandardCharsets.UTF_8));
             ClientTestWorker proxy = ClientTestWorker.start("--upstream", "http://127.0.0.1:"
                     + out.readLine().substring("listening ".length()).trim());
             H3Client proxied = H3Client.builder().trust(proxy.certificate()).build()) {
            H3Connection connection = H3Client.await(proxied.connect("localhost", proxy.port()));
            H3WebSocket socket = H3Client.await(connection.openWebSocket("/chat"));
            MessageDigest sent = MessageDigest.getInstance("SHA-256");
            MessageDigest received = MessageDigest.getInstance("SHA-256");
            Random random = new Random(9220);
            for (int i = 0; i < 256; i++) {
                byte[] chunk = new byte[4096];
                random.nextBytes(chunk);
                sent.update(chunk);
                socket.send(WebSocketMessage.binary(chunk));
                received.update(socket.receive().data());
            }
            assertThat(received.digest()).isEqualTo(sent.digest());
            socket.close(4002, "client bye");
            assertThat(socket.receive()).isNull();
            assertThat(socket.closeCode()).isEqualTo(4002);
            assertThat(out.readLine()).isEqualTo("closed 4002");

            H3WebSocket serverCloses = H3Client.await(connection.openWebSocket("/chat"));
            serverCloses.send(WebSocketMessage.text("close 4323 server bye"));
            assertThat(serverCloses.receive()).isNull();
            assertThat(serverCloses.closeCode()).isEqualTo(4323);
            assertThat(serverCloses.closeReason()).isEqualTo("server bye");
        } finally {
            upstream.destroyForcibly();
            upstream.waitFor(10, TimeUnit.SECONDS);
            Files.deleteIfExists(script);
            Files.deleteIfExists(dir);
        }
    }

    /**
     * A client that stops receiving while {@code /ws/flood} sends 64 MiB: the socket stops reading the stream once its
     * inbox holds {@link H3WebSocket#MAX_INBOX}, QUIC flow control stops the server at the client's 4 MiB stream
     * window (the connection's received bytes stay below twice that), and the handler's send blocks once the worker
     * holds what its session and exchange allow (256 KiB posted, 256 KiB written but not taken by quiche): below
     * 16 MiB, which leaves room for the window, the inbox and frames in flight. Before the exchange counted unfinished
     * writes, the worker accepted 23-56 MiB into the stalled stream (Netty's QUIC stream queue). Once the client
     * receives, all 64 MiB arrive byte-exact and the flood's close follows.
     */
    @Test
    void slowReaderStallsTheHandlersSendThroughFlowControl() throws Exception {
        long total = 64L << 20;
        H3Connection connection = H3Client.await(client.connect("localhost", worker.port()));
        H3WebSocket socket = H3Client.await(connection.openWebSocket("/ws/flood?bytes=" + total));
        // Wait (bounded) until the flood is stuck: a send in progress and no byte more sent for half a second of looks.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        JsonNode first = floodStatus();
        long firstSeen = System.nanoTime();
        JsonNode now;
        while (true) {
            now = floodStatus();
            long at = System.nanoTime();
            if (!now.get("sending").asBoolean() || now.get("sent").asLong() != first.get("sent").asLong()
                    || now.get("sent").asLong() == 0) {
                first = now;
                firstSeen = at;
            } else if (at - firstSeen >= TimeUnit.MILLISECONDS.toNanos(500)) {
                break;
            }
            assertThat(at).as("the flood never stalled: %s", now).isLessThan(deadline);
        }
        long stalledAt = now.get("sent").asLong();
        assertThat(stalledAt).as("bytes the handler got out to a client that receives nothing")
                .isLessThan(16L << 20);
        assertThat(socket.inboxBytes()).as("bytes waiting in the client's inbox")
                .isBetween((long) H3WebSocket.MAX_INBOX, 2L * H3WebSocket.MAX_INBOX);
        assertThat(H3Client.await(connection.stats()).bytesReceived())
                .as("UDP payload bytes the client took in (its stream window is 4 MiB)").isLessThan(8L << 20);

        byte[] chunk = new byte[16 * 1024];
        for (int i = 0; i < chunk.length; i++) {
            chunk[i] = (byte) ('a' + i % 26);
        }
        long got = 0;
        for (WebSocketMessage m; (m = socket.receive()) != null; ) {
            byte[] data = m.data();
            assertThat(m.text()).isFalse();
            assertThat(data.length).isEqualTo((int) Math.min(chunk.length, total - got));
            if (!Arrays.equals(data, 0, data.length, chunk, 0, data.length)) {
                assertThat(data).as("message at byte %d", got).isEqualTo(Arrays.copyOf(chunk, data.length));
            }
            got += data.length;
        }
        assertThat(got).isEqualTo(total);
        assertThat(socket.closeCode()).isEqualTo(1000);
        assertThat(socket.closeReason()).isEqualTo("flood done");
        assertThat(floodStatus().get("sent").asLong()).isEqualTo(total);
    }

    private static JsonNode floodStatus() throws Exception {
        H3Response<byte[]> r = client.request(H3Request.get("https://localhost:" + worker.port() + "/ws/flood-status"),
                BodyHandler.ofByteArray(4096));
        assertThat(r.status()).isEqualTo(200);
        return JSON.readTree(r.body());
    }

    @Test
    void frameOverTheLimitCloses1009() throws Exception {
        H3WebSocket socket = open("/ws/echo");
        socket.send(WebSocketMessage.binary(new byte[64 * 1024 + 1]));
        assertThat(socket.receive()).isNull();
        assertThat(socket.closeCode()).isEqualTo(1009);
    }
}
