package dev.quicfleet.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quicfleet.worker.ClientTestWorker;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A worker with {@code --websocket off} and the project's HTTP/3 client: the server's SETTINGS do not enable extended
 * CONNECT, so {@link H3Connection#openWebSocket} fails without sending anything; an extended CONNECT sent anyway is a
 * malformed request (RFC 9220 §3) and its stream is reset with H3_MESSAGE_ERROR (RFC 9114 §4.1.2), while the
 * connection serves on. HTTP/1.1 and HTTP/2 are the worker's {@code WebSocketOffIT}.
 */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class ClientWebSocketOffIT {

    /** RFC 9114 §8.1 H3_MESSAGE_ERROR. */
    private static final long H3_MESSAGE_ERROR = 0x10e;

    private static ClientTestWorker worker;
    private static H3Client client;

    @BeforeAll
    static void start() throws Exception {
        worker = ClientTestWorker.start("--websocket", "off");
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

    @Test
    void openWebSocketFailsWhenTheServerDidNotEnableExtendedConnect() throws Exception {
        H3Connection connection = H3Client.await(client.connect("localhost", worker.port()));
        assertThatThrownBy(() -> H3Client.await(connection.openWebSocket("/ws/echo")))
                .isInstanceOf(H3ProtocolException.class)
                .hasMessageContaining("did not enable extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL)");
        assertThat(H3Client.await(connection.send(H3Request.get("https://localhost:" + worker.port() + "/"),
                BodyHandler.discarding())).status()).isEqualTo(200);
    }

    @Test
    void extendedConnectSentAnywayIsResetWithMessageErrorAndTheConnectionServesOn() throws Exception {
        H3Connection connection = H3Client.await(client.connect("localhost", worker.port()));
        assertThatThrownBy(() -> H3Client.await(connection.openWebSocket("/ws/echo", true)))
                .isInstanceOfSatisfying(H3StreamResetException.class,
                        e -> assertThat(e.errorCode()).isEqualTo(H3_MESSAGE_ERROR))
                .hasMessageContaining("H3_MESSAGE_ERROR");
        assertThat(connection.isOpen()).isTrue();
        assertThat(H3Client.await(connection.send(H3Request.get("https://localhost:" + worker.port() + "/"),
                BodyHandler.discarding())).status()).isEqualTo(200);
    }
}
