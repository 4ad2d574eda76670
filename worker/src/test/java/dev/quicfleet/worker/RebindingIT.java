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
 * A client whose NAT rebinds in the middle of a download — its source port, or its source address, changes after
 * 3 MB and the datagrams in flight at that moment are lost — still gets every byte, soon (the interop runner's
 * rebind-port and rebind-addr cases, with the ngtcp2 client). Without {@link NatRebinding} the packets lost
 * around the rebinding were never retransmitted and the download stalled until the idle timeout.
 */
class RebindingIT {

    @RegisterExtension
    static RunningWorker worker = new RunningWorker();

    private static final long TEN_MIB = 10L << 20;
    private static final long REBIND_AFTER = 3_000_000;

    @Test
    void aPortRebindingMidDownloadLosesNoBytes() throws Exception {
        InetAddress address = InetAddress.getByName("127.0.0.2");
        download(address, address, "port");
    }

    @Test
    void anAddressRebindingMidDownloadLosesNoBytes() throws Exception {
        download(InetAddress.getByName("127.0.0.2"), InetAddress.getByName("127.0.0.3"), "addr");
    }

    private static void download(InetAddress first, InetAddress second, String name) throws Exception {
        Path dir = worker.scratch("rebind-" + name);
        InetSocketAddress server = new InetSocketAddress(InetAddress.getLoopbackAddress(), worker.port());
        try (RebindingUdpRelay relay = RebindingUdpRelay.start(server, first, second, REBIND_AFTER,
                Duration.ofMillis(5))) {
            long start = System.nanoTime();
            // --timeout is gtlsclient's idle timeout: a stalled transfer ends after it, with the bytes it had
            Peers.Run run = Peers.gtlsclient(relay.port(), List.of("--download=" + dir, "--timeout=20s"),
                    Duration.ofSeconds(60), "/bytes/10m");
            double seconds = (System.nanoTime() - start) / 1e9;
            assertThat(relay.rebound()).as("the relay rebound after %d bytes", REBIND_AFTER).isTrue();
            assertThat(relay.dropped()).as("datagrams lost at the rebinding").isPositive();
            Path file = dir.resolve("10m");
            assertThat(file).as("gtlsclient stderr:%n%s", tail(run.stderrText())).exists();
            assertThat(Files.size(file)).as("bytes downloaded through the rebinding (%d dropped, %.1f s)",
                    relay.dropped(), seconds).isEqualTo(TEN_MIB);
            // a stall that only ends at the idle timeout would take 20 s; the download takes 1-3 s here
            assertThat(seconds).as("seconds for 10 MiB through the rebinding").isLessThan(15);
        }
    }

    private static String tail(String text) {
        return text.substring(Math.max(0, text.length() - 3000));
    }
}
