package dev.quicfleet.client;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The client against a real cluster (supervisor and worker JVMs): it follows a GOAWAY to a new connection, and
 * closes the connections it is done with, as the server's own metrics show.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class ClientClusterIT {

    @TempDir
    Path tmp;

    /**
     * SIGHUP replaces the worker; the old one sends GOAWAY on its connections and drains. h3load (2 connections x 4
     * streams) and the library's pooled client, both under way across the reload, must move to new connections
     * without a failed request. Before the fix they kept opening streams on the old connections, which the draining
     * worker closed at its deadline under their in-flight requests. Later, a drain with nothing in flight closed the
     * worker's connections and UDP socket a few milliseconds after queueing GOAWAY, before GOAWAY and
     * CONNECTION_CLOSE had left: h3load and the library kept sending on connections nobody served until their 30 s
     * idle timeout (20 library requests short 30 s after the reload).
     */
    @Test
    void afterGoAwayH3loadAndTheLibraryMoveToNewConnectionsWithoutFailedRequests() throws Exception {
        try (ClientTestCluster cluster = ClientTestCluster.start(tmp, "--workers", "1", "--drain-timeout", "10s")) {
            String url = "https://localhost:" + cluster.port() + "/whoami";
            // 60 s: ample for a reload (a worker start took 13 s, a whole reload about 20 s, on a busy 2-CPU machine)
            Path out = tmp.resolve("h3load.json");
            Path err = tmp.resolve("h3load.err");
            Process h3load = new ProcessBuilder(root().resolve("scripts/h3load").toString(), "-c", "2", "-m", "4",
                    "-D", "60s", "--json", "--cacert", cluster.certificate().toString(), url)
                    .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            AtomicBoolean stop = new AtomicBoolean();
            List<H3Connection> used = new CopyOnWriteArrayList<>();
            List<String> failures = new CopyOnWriteArrayList<>();
            List<String> handshakeFailures = new CopyOnWriteArrayList<>();
            AtomicInteger done = new AtomicInteger();
            AtomicReference<H3Connection> afterReload = new AtomicReference<>();
            try (H3Client client = H3Client.builder().trust(cluster.certificate()).build()) {
                // One request after another through the client's pooled connection.
                CompletableFuture<Void> library = CompletableFuture.runAsync(() -> {
                    while (!stop.get()) {
                        try {
                            H3Response<byte[]> r = client.request(H3Request.get(url), BodyHandler.ofByteArray(1 << 16));
                            if (r.status() != 200) {
                                failed(failures, "status " + r.status());
                            }
                            if (used.isEmpty() || used.getLast() != r.connection()) {
                                used.add(r.connection());
                            }
                            done.incrementAndGet();
                        } catch (H3Exception e) {
                            failed(isHandshakeFailure(e.getMessage()) ? handshakeFailures : failures, e.getMessage());
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                }, runnable -> Thread.ofPlatform().daemon().name("library-client").start(runnable));
                try {
                    awaitCount(done, 10, Duration.ofSeconds(30), "library requests before the reload");
                    // h3load's JVM starts slowly on a busy machine: its connections must be up before the reload
                    awaitProgress(err, h3load, Duration.ofSeconds(60));
                    cluster.reload();
                    assertThat(cluster.awaitStderr(l -> l.contains("previous worker pid") && l.contains("exited"),
                            Duration.ofSeconds(120))).as("the old worker exited after the reload; log:\n%s",
                            cluster.stderr()).isNotNull();
                    assertThat(h3load.isAlive()).as("h3load still running when the reload was over").isTrue();
                    // The library keeps going on the new worker.
                    int before = done.get();
                    awaitCount(done, before + 20, Duration.ofSeconds(30), "library requests after the reload");
                    afterReload.set(used.getLast());
                } finally {
                    stop.set(true);
                    library.get(30, TimeUnit.SECONDS);
                }
                // What GOAWAY handling decides: no request lost on the old connection. A new connection whose
                // handshake did not finish within 10 s during the hand-over (seen once in 4 runs at load average
                // 15-20) is the reload's own availability, which ReloadIT covers; it is reported, not failed here.
                assertThat(failures).as("library requests that failed across the reload; handshake failures: %s; "
                        + "cluster log:\n%s", handshakeFailures, cluster.stderr()).isEmpty();
                if (!handshakeFailures.isEmpty()) {
                    System.out.println("ClientClusterIT: new connections whose handshake failed during the reload: "
                            + handshakeFailures);
                }
                assertThat(used).as("connections the pooled client used").hasSizeGreaterThanOrEqualTo(2);
                H3Connection first = used.getFirst();
                assertThat(first.goAwayReceived()).as("the first connection got GOAWAY").isTrue();
                assertThat(afterReload.get()).isNotSameAs(first);
                assertThat(afterReload.get().goAwayReceived()).isFalse();
                // the client closes a connection it is done with: the GOAWAY'd one ends by itself
                first.closeFuture().get(10, TimeUnit.SECONDS);
            }

            assertThat(h3load.waitFor(120, TimeUnit.SECONDS)).as("h3load finished").isTrue();
            String stderr = Files.readString(err, StandardCharsets.UTF_8);
            JsonNode report = new ObjectMapper().readTree(Files.readString(out));
            // As above: only failed handshakes of new connections are tolerated (kind "timeout" for "no QUIC
            // handshake ... within 10s", or "connect"), never a request lost on a connection.
            long failedHandshakes = 0;
            for (String kind : List.of("timeout", "connect")) {
                if (report.at("/errors/" + kind).asLong() > 0) {
                    assertThat(isHandshakeFailure(report.at("/firstErrors/" + kind).asText())).as(stderr).isTrue();
                    failedHandshakes += report.at("/errors/" + kind).asLong();
                }
            }
            assertThat(report.at("/requests/failed").asLong()).as(stderr).isEqualTo(failedHandshakes);
            assertThat(h3load.exitValue()).as(stderr).isEqualTo(failedHandshakes == 0 ? 0 : 1);
            assertThat(report.at("/statusCodes/200").asLong()).isEqualTo(report.at("/requests/done").asLong())
                    .isPositive();
            // both connections got GOAWAY from the old worker (one begun during its drain may get one too), and new
            // ones took over
            assertThat(report.at("/goAways").asLong()).isGreaterThanOrEqualTo(2);
            assertThat(report.at("/handshakes/total").asLong()).isGreaterThanOrEqualTo(4);
            // the new worker served h3load after the reload: its counters started at 0
            double served = ClientTestCluster.sum(cluster.scrape(), "quicfleet_http_requests_total",
                    "protocol=\"h3\"");
            assertThat(served).isPositive();
        }
    }

    /**
     * Every connection of a --new-connection-per-request run is closed with CONNECTION_CLOSE: the worker's gauge of
     * open QUIC connections returns to 0 well within its 30 s idle timeout. Before the fix the close never left the
     * client's socket and all 200 stayed open until the idle timeout.
     */
    @ParameterizedTest
    @ValueSource(strings = {"full handshakes", "--resume", "--early-data"})
    void newConnectionPerRequestLeavesNoConnectionOpenOnTheServer(String mode) throws Exception {
        try (ClientTestCluster cluster = ClientTestCluster.start(tmp, "--workers", "1", "--idle-timeout", "30s")) {
            String url = "https://localhost:" + cluster.port() + "/whoami";
            // Resumed connections (with and without 0-RTT) too: with delayed ACKs most of them never sent their close.
            List<String> command = new ArrayList<>(List.of(root().resolve("scripts/h3load").toString(), "-n", "200",
                    "-c", "8", "--new-connection-per-request", "--json", "--no-progress", "--cacert",
                    cluster.certificate().toString()));
            if (mode.startsWith("--")) {
                command.add(mode);
            }
            command.add(url);
            Process h3load = new ProcessBuilder(command)
                    .redirectOutput(tmp.resolve("h3load.json").toFile())
                    .redirectError(tmp.resolve("h3load.err").toFile()).start();
            assertThat(h3load.waitFor(120, TimeUnit.SECONDS)).as("h3load finished").isTrue();
            String stderr = Files.readString(tmp.resolve("h3load.err"));
            assertThat(h3load.exitValue()).as(stderr).isZero();
            JsonNode report = new ObjectMapper().readTree(Files.readString(tmp.resolve("h3load.json")));
            assertThat(report.at("/requests/done").asLong()).isEqualTo(200);
            assertThat(report.at("/handshakes/total").asLong()).isEqualTo(200);

            String scrape = cluster.scrape();
            assertThat(ClientTestCluster.sum(scrape, "quicfleet_quic_handshakes_total", "result=\"success\""))
                    .as("handshakes the worker completed").isGreaterThanOrEqualTo(200);
            // A closed connection lingers in quiche's draining state for 3 PTOs (milliseconds on loopback).
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            double open = ClientTestCluster.sum(scrape, "quicfleet_quic_connections_active");
            List<Double> seen = new ArrayList<>(List.of(open));
            while (open > 0 && System.nanoTime() < deadline) {
                TimeUnit.MILLISECONDS.sleep(250);
                open = ClientTestCluster.sum(cluster.scrape(), "quicfleet_quic_connections_active");
                seen.add(open);
            }
            assertThat(open).as("QUIC connections open on the worker 10 s after the run (scrapes: %s)", seen)
                    .isZero();
        }
    }

    /** Whether a failure's message says a new connection's handshake failed (no request was lost with it). */
    private static boolean isHandshakeFailure(String message) {
        return message.startsWith("no QUIC handshake with ") || message.startsWith("QUIC handshake with ")
                || message.startsWith("connection refused: ");
    }

    /** Keeps the first 10 failures and counts the rest, so a failing run's report stays readable. */
    private static void failed(List<String> failures, String why) {
        synchronized (failures) {
            if (failures.size() < 10) {
                failures.add(why);
            } else if (failures.size() == 10) {
                failures.add("and more");
            }
        }
    }

    /** Waits (bounded) until h3load's progress line (on stderr, once a second) counts a finished request. */
    private static void awaitProgress(Path stderr, Process h3load, Duration timeout) throws Exception {
        Pattern progress = Pattern.compile("^progress: +[0-9.]+s ([0-9]+) done");
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            for (String line : Files.readAllLines(stderr, StandardCharsets.UTF_8)) {
                Matcher m = progress.matcher(line);
                if (m.find() && Long.parseLong(m.group(1)) > 0) {
                    return;
                }
            }
            if (System.nanoTime() > deadline || !h3load.isAlive()) {
                throw new AssertionError("h3load answered no request within " + timeout + "; stderr:\n"
                        + Files.readString(stderr, StandardCharsets.UTF_8));
            }
            TimeUnit.MILLISECONDS.sleep(100);
        }
    }

    private static void awaitCount(AtomicInteger count, int atLeast, Duration timeout, String what)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (count.get() < atLeast) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(what + ": " + count.get() + " of " + atLeast + " within " + timeout);
            }
            TimeUnit.MILLISECONDS.sleep(20);
        }
    }

    private static Path root() {
        return Path.of(System.getProperty("quicfleet.root", "..")).toAbsolutePath().normalize();
    }
}
