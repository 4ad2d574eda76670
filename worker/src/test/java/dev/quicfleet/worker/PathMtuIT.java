package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Path MTU discovery (on by default, up to {@code --quic-max-udp-payload} 1452): a download fills the path's MTU
 * where the path allows it, and finds a smaller one where a router drops larger datagrams, without losing the
 * connection — which 1452-byte packets from the start would (the reason discovery is on). Client: the ngtcp2 client,
 * which accepts datagrams up to its own 1452-byte default.
 */
class PathMtuIT {

    @RegisterExtension
    static RunningWorker worker = new RunningWorker();

    private static final long TEN_MIB = 10L << 20;

    @Test
    void aDownloadOverAFullSizePathUsesThe1452ByteMaximum() throws Exception {
        try (MtuLimitedRelay relay = MtuLimitedRelay.start(server(), 65_527)) {
            download(relay, "full");
            // quiche counts a probe lost to congestion as too big and searches below it, ending a few bytes short of
            // 1,452 then (a busy machine drops datagrams on loopback); anything above 1,350, the old fixed size,
            // shows that discovery ran
            assertThat(relay.largestFromServer()).as("largest UDP payload from the worker").isBetween(1400, 1452);
        }
    }

    @Test
    void aDownloadOverA1400BytePathFindsItAndLosesNoBytes() throws Exception {
        try (MtuLimitedRelay relay = MtuLimitedRelay.start(server(), 1400)) {
            download(relay, "narrow");
            assertThat(relay.droppedFromServer()).as("probes larger than the path").isPositive();
            // quiche's binary search between 1,200 and the lost 1,452-byte probe ends within a byte of the limit,
            // or lower when a probe below it was lost to congestion too; above 1,350 (the old fixed size) shows the
            // search found the path's room
            assertThat(relay.largestFromServer()).as("largest UDP payload that got through").isBetween(1351, 1400);
        }
    }

    private static InetSocketAddress server() {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), worker.port());
    }

    private static void download(MtuLimitedRelay relay, String name) throws Exception {
        Path dir = worker.scratch("pmtu-" + name);
        Peers.Run run = Peers.gtlsclient(relay.port(), List.of("--download=" + dir, "--timeout=20s"),
                Duration.ofSeconds(60), "/bytes/10m");
        Path file = dir.resolve("10m");
        assertThat(file).as("gtlsclient stderr:%n%s", run.stderrText()).exists();
        assertThat(Files.size(file)).as("bytes downloaded").isEqualTo(TEN_MIB);
    }
}
