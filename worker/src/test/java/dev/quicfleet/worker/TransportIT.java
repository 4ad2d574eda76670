package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.quicfleet.transport.Transport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@code --transport} forces each transport, and HTTP/3 works on every one of them, early requests included: a resumed
 * GET sent in 0-RTT runs before the handshake completes on every transport.
 */
class TransportIT {

    @TempDir
    Path tmp;

    @ParameterizedTest
    @EnumSource(Transport.class)
    void forcedTransportServesHttp3(Transport transport) throws Exception {
        assumeTrue(transport.isAvailable(), transport + " is not available on this machine");
        try (WorkerProcess worker = WorkerProcess.start(tmp.resolve("state"), "--transport", transport.id())) {
            assertThat(worker.transport()).isEqualTo(transport.id());
            Path dir = Files.createDirectories(tmp.resolve(transport.id()));
            Path session = tmp.resolve(transport.id() + "-session.pem");
            Path params = tmp.resolve(transport.id() + "-params.pem");
            Peers.Run run = Peers.gtlsclient(worker.port(), List.of("-q", "--wait-for-ticket", "--session-file="
                    + session, "--tp-file=" + params, "--download", dir.toString()), Duration.ofSeconds(30),
                    "/whoami", "/bytes/5m");
            var whoami = new ObjectMapper().readTree(dir.resolve("whoami").toFile());
            assertThat(whoami.get("transport").asText()).as(run.stderrText()).isEqualTo(transport.id());
            assertThat(whoami.get("protocol").asText()).isEqualTo("h3");
            assertThat(Files.size(dir.resolve("5m"))).isEqualTo(5L << 20);

            Path early = Files.createDirectories(tmp.resolve(transport.id() + "-early"));
            Peers.Run resumed = Peers.gtlsclient(worker.port(), List.of("--session-file=" + session,
                    "--tp-file=" + params, "--download", early.toString()), Duration.ofSeconds(30), "/whoami");
            var earlyWhoami = new ObjectMapper().readTree(early.resolve("whoami").toFile());
            assertThat(resumed.stderrText()).contains("0RTT STREAM").doesNotContain("Early data was rejected");
            assertThat(earlyWhoami.get("earlyData").asBoolean()).as(earlyWhoami.toString()).isTrue();
        }
    }
}
