package dev.quicfleet.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Failures a user meets before any server answers, from the library and from the h3 command line. */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class ClientErrorsIT {

    /** A loopback UDP port with nothing bound to it (it was free a moment ago). */
    private static int freePort() throws Exception {
        try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            return s.getLocalPort();
        }
    }

    @Test
    void nothingListeningIsRefusedAtOnceByIcmp() throws Exception {
        int port = freePort();
        try (H3Client client = H3Client.builder().connectTimeout(Duration.ofSeconds(20)).build()) {
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> H3Client.await(client.connect("127.0.0.1", port)))
                    .isInstanceOf(H3ConnectException.class)
                    .hasMessage("connection refused: nothing listening on UDP 127.0.0.1:" + port
                            + " (ICMP port unreachable)");
            // refused by the ICMP error, not by the 20 s connect timeout
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(20));
        }
    }

    @Test
    void silentPeerTimesOut() throws Exception {
        // bound but never answering: packets vanish, as behind a firewall that drops them
        try (DatagramSocket silent = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
             H3Client client = H3Client.builder().connectTimeout(Duration.ofMillis(800)).build()) {
            assertThatThrownBy(() -> client.request(
                    H3Request.get("https://127.0.0.1:" + silent.getLocalPort() + "/"), BodyHandler.discarding()))
                    .isInstanceOf(H3TimeoutException.class)
                    .hasMessage("no QUIC handshake with 127.0.0.1:" + silent.getLocalPort() + " within 800ms");
        }
    }

    @Test
    void unknownHostIsAConnectError() throws Exception {
        try (H3Client client = H3Client.builder().build()) {
            assertThatThrownBy(() -> client.request(H3Request.get("https://no-such-host.invalid/"),
                    BodyHandler.discarding()))
                    .isInstanceOf(H3ConnectException.class)
                    .hasMessage("cannot resolve host no-such-host.invalid");
        }
    }

    @Test
    void cliPrintsOneErrorLineAndACurlLikeExitCode() throws Exception {
        int port = freePort();
        assertCli(7, "error: connection refused: nothing listening on UDP localhost:" + port
                + " (127.0.0.1) (ICMP port unreachable)", "https://localhost:" + port + "/");
        try (DatagramSocket silent = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            assertCli(28, "error: no QUIC handshake with 127.0.0.1:" + silent.getLocalPort() + " within 1s",
                    "--connect-timeout", "1s", "https://127.0.0.1:" + silent.getLocalPort() + "/");
        }
        assertCli(6, "error: cannot resolve host no-such-host.invalid", "https://no-such-host.invalid/");
        assertCli(2, "error: URL http://localhost/: expected https://HOST[:PORT]/PATH", "http://localhost/");
        assertCli(26, "error: cannot read /no/such/file: no such file", "-d", "@/no/such/file",
                "https://localhost:1/");
    }

    private static void assertCli(int code, String line, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = H3Main.run(args, out, new PrintStream(err, true, StandardCharsets.UTF_8));
        String stderr = err.toString(StandardCharsets.UTF_8);
        assertThat(stderr.lines().filter(l -> !l.startsWith("usage:")).toList()).as("stderr").containsExactly(line);
        assertThat(exit).as("exit code; stderr: %s", stderr).isEqualTo(code);
        assertThat(out.size()).isZero();
    }
}
