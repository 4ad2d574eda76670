package dev.quicfleet.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.EpollDomainDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainDatagramPacket;
import io.netty.channel.unix.DomainSocketAddress;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The supervisor's sd_notify messages ({@code Type=notify} in packaging/quicfleet.service), received on a Unix datagram
 * socket this test owns and names in {@code $NOTIFY_SOCKET}, as systemd would: {@code READY=1} once every worker
 * serves (one worker is held with SIGSTOP until the other serves: nothing is sent meanwhile), {@code RELOADING=1}
 * (with {@code MONOTONIC_USEC}) then {@code READY=1} around a SIGHUP reload, and
 * {@code STOPPING=1} on SIGTERM.
 */
class SystemdNotifyIT {

    @TempDir
    Path tmp;

    private EventLoopGroup group;
    private Channel socket;
    private final BlockingQueue<String> messages = new LinkedBlockingQueue<>();
    /** The cluster's port once known: a supervisor killed by a failed test leaves its shared map in /dev/shm. */
    private int port;

    @BeforeEach
    void listen() throws Exception {
        group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        socket = new Bootstrap().group(group).channel(EpollDomainDatagramChannel.class)
                .handler(new SimpleChannelInboundHandler<DomainDatagramPacket>() {
                    @Override
                    protected void channelRead0(ChannelHandlerContext ctx, DomainDatagramPacket packet) {
                        messages.add(packet.content().toString(StandardCharsets.UTF_8));
                    }
                })
                .bind(new DomainSocketAddress(tmp.resolve("notify").toFile())).sync().channel();
    }

    @AfterEach
    void close() throws Exception {
        if (port > 0) {
            try (var files = Files.walk(Path.of("/dev/shm", "quicfleet-" + port))) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException e) {
                // removed by the supervisor itself (a clean stop of a --port 0 cluster)
            }
        }
        socket.close().sync();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    @Test
    void readyAfterEveryWorkerServesReloadingAroundSighupStoppingOnSigterm() throws Exception {
        SupervisorProcess supervisor = SupervisorProcess.launch(tmp,
                Map.of("NOTIFY_SOCKET", tmp.resolve("notify").toString()), "--workers", "2",
                "--metrics-address", "off");
        try (supervisor) {
            // Slot 1's worker is held (SIGSTOP) until slot 0's serves: no READY=1 while one slot is not serving.
            String started = supervisor.awaitStderr(l -> l.contains("slot 1: started worker pid "),
                    Duration.ofSeconds(30));
            assertThat(started).as(supervisor.stderr()).isNotNull();
            // logged before the workers start ("... 2 workers on udp+tcp 127.0.0.1:PORT, control socket ...")
            Matcher bound = Pattern.compile("workers on udp\\+tcp [^ ]*:(\\d+),").matcher(supervisor.stderr());
            assertThat(bound.find()).as(supervisor.stderr()).isTrue();
            port = Integer.parseInt(bound.group(1));
            String held = started.substring(started.lastIndexOf(' ') + 1);
            signal("STOP", held);
            assertThat(supervisor.awaitStderr(l -> l.contains("slot 0: worker pid ") && l.endsWith(" ready"),
                    Duration.ofSeconds(90))).as(supervisor.stderr()).isNotNull();
            assertThat(messages.poll(2, TimeUnit.SECONDS)).as("a notification while slot 1 does not serve").isNull();
            signal("CONT", held);

            String ready = next(Duration.ofSeconds(90), supervisor);
            Instant received = Instant.now();
            assertThat(ready).as("the first message; supervisor log:\n%s", supervisor.stderr()).startsWith("READY=1\n")
                    .contains("STATUS=serving: 2 workers");
            // Each slot's "worker pid N ready" line (logged when its worker reported serving) is no later than READY=1.
            for (int slot = 0; slot < 2; slot++) {
                String prefix = "slot " + slot + ": worker pid ";
                String line = supervisor.awaitStderr(l -> l.contains(prefix) && l.endsWith(" ready"),
                        Duration.ofSeconds(10));
                assertThat(line).as("slot %d ready; supervisor log:\n%s", slot, supervisor.stderr()).isNotNull();
                assertThat(Instant.parse(line.substring(0, line.indexOf(' ')))).as(line).isBeforeOrEqualTo(received);
            }
            assertThat(ready).contains("udp+tcp " + port + ",");
            assertThat(get(port)).as("an HTTP/3 request right after READY=1").contains("\"protocol\" : \"h3\"");

            long before = TimeUnit.NANOSECONDS.toMicros(System.nanoTime());
            signal("HUP", Long.toString(supervisor.pid()));
            String reloading = next(Duration.ofSeconds(10), supervisor);
            long after = TimeUnit.NANOSECONDS.toMicros(System.nanoTime());
            assertThat(reloading).startsWith("RELOADING=1\n");
            // CLOCK_MONOTONIC, which both JVMs' nanoTime read on Linux: systemd >= 253 compares it with its own.
            long monotonic = Long.parseLong(reloading.replaceAll("(?s).*MONOTONIC_USEC=(\\d+).*", "$1"));
            assertThat(monotonic).isBetween(before, after);

            String reloaded = next(Duration.ofSeconds(90), supervisor);
            received = Instant.now();
            assertThat(reloaded).startsWith("READY=1\n");
            // both slots' replacements had reported serving by then
            assertThat(supervisor.awaitStderr(l -> l.contains("reload complete"), Duration.ofSeconds(10)))
                    .as(supervisor.stderr()).isNotNull();
            List<String> replaced = supervisor.stderr().lines().filter(l -> l.contains("reloaded worker pid")).toList();
            assertThat(replaced).as(supervisor.stderr()).hasSize(2);
            for (String line : replaced) {
                assertThat(Instant.parse(line.substring(0, line.indexOf(' ')))).as(line).isBeforeOrEqualTo(received);
            }
            assertThat(get(port)).as("an HTTP/3 request after the reload").contains("\"protocol\" : \"h3\"");

            supervisor.terminate();
            String stopping = next(Duration.ofSeconds(10), supervisor);
            assertThat(stopping).startsWith("STOPPING=1\n");
            assertThat(supervisor.awaitExit(Duration.ofSeconds(60))).isZero();
            assertThat(messages).as("nothing after STOPPING=1").isEmpty();
        }
    }

    private static void signal(String name, String pid) throws Exception {
        assertThat(new ProcessBuilder("kill", "-" + name, pid).start().waitFor(10, TimeUnit.SECONDS)).isTrue();
    }

    private String next(Duration timeout, SupervisorProcess supervisor) throws InterruptedException {
        String message = messages.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        assertThat(message).as("a notification within %s; supervisor log:\n%s", timeout, supervisor.stderr())
                .isNotNull();
        return message;
    }

    /** GET /whoami over HTTP/3 with the independent ngtcp2 client; the body. */
    private String get(int port) throws Exception {
        Path download = Files.createTempDirectory(tmp, "get");
        Process client = new ProcessBuilder("/usr/bin/gtlsclient", "-q", "--exit-on-all-streams-close",
                "--handshake-timeout=5s", "--timeout=5s", "--download", download.toString(), "127.0.0.1",
                Integer.toString(port), "https://localhost:" + port + "/whoami")
                .redirectErrorStream(true).redirectOutput(tmp.resolve("gtlsclient.log").toFile()).start();
        if (!client.waitFor(30, TimeUnit.SECONDS)) {
            client.destroyForcibly(); // by its own handle (pid)
        }
        try (var files = Files.list(download)) {
            Path body = files.findFirst().orElse(null);
            return body == null ? Files.readString(tmp.resolve("gtlsclient.log")) : Files.readString(body);
        }
    }
}
