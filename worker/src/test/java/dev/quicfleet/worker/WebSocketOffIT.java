package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A worker with {@code --websocket off} against independent clients: Node's own {@code http2} module sees no
 * SETTINGS_ENABLE_CONNECT_PROTOCOL and its extended CONNECT sent anyway is reset with PROTOCOL_ERROR (RFC 8441 §4),
 * the connection serving on; an HTTP/1.1 {@code Upgrade: websocket} gets no 101. The HTTP/3 side is
 * {@code ClientWebSocketOffIT} in the client module; with the default (on) {@link WebSocketIT} covers all of it.
 */
class WebSocketOffIT {

    /** RFC 9113 §7 PROTOCOL_ERROR. */
    private static final int PROTOCOL_ERROR = 0x1;

    @RegisterExtension
    static RunningWorker worker = new RunningWorker("--websocket", "off");

    private static Path node;

    @BeforeAll
    static void clients() throws Exception {
        Peers.requireInstalled(WebSocketIT.NODE);
        node = Path.of(WebSocketOffIT.class.getResource("websocket/ws_h2_refused.mjs").toURI());
    }

    @Test
    void http2AdvertisesNoExtendedConnectAndResetsOneSentAnyway() throws Exception {
        List<String> command = List.of(WebSocketIT.NODE, node.toString(), Integer.toString(worker.port()),
                "/ws/echo");
        Peers.Run run = Peers.run(command, Duration.ofSeconds(30), null, l -> { }, l -> { });
        assertThat(run.exitCode()).as("%s\nstdout:\n%s\nstderr:\n%s", command, run.stdoutText(), run.stderrText())
                .isZero();
        assertThat(run.stdout().stream().map(Peers.Line::text).toList()).containsExactly(
                "enableConnectProtocol false", "connect reset " + PROTOCOL_ERROR, "get status 200");
    }

    /** Served as a plain request: {@code /ws/echo} answers 426 as to a GET without {@code Upgrade}, never 101. */
    @Test
    void http1UpgradeIsAPlainRequest() throws Exception {
        try (Socket plain = new Socket();
             SSLSocket socket = TestClients.http1Socket(plain, worker.port(),
                     worker.stateDir().resolve("dev-cert.pem"), 0)) {
            OutputStream out = socket.getOutputStream();
            out.write(("GET /ws/echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(),
                    StandardCharsets.ISO_8859_1));
            List<String> head = new ArrayList<>();
            for (String line; (line = in.readLine()) != null && !line.isEmpty(); ) {
                head.add(line.toLowerCase(Locale.ROOT));
            }
            assertThat(head).isNotEmpty();
            assertThat(head.get(0)).startsWith("http/1.1 426 ");
            assertThat(head).contains("sec-websocket-version: 13").noneMatch(l -> l.startsWith("sec-websocket-accept"));
        }
    }
}
