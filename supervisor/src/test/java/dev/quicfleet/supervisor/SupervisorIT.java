package dev.quicfleet.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The supervisor with real worker JVMs on loopback. */
class SupervisorIT {

    private static final Pattern WORKER = Pattern.compile("\"worker\" : (\\d+)");

    @TempDir
    Path tmp;
    private final ExecutorService clients = Executors.newThreadPerTaskExecutor(Thread.ofPlatform().daemon().factory());

    @AfterEach
    void stopClients() {
        clients.shutdownNow();
    }

    /**
     * Started under {@code nohup}, SIGHUP is ignored from the start and HotSpot never calls a handler for it (a
     * reload would silently do nothing): the supervisor says so once, before it starts a worker.
     */
    @Test
    void startedUnderNohupItSaysSighupWillNotReload() throws Exception {
        try (SupervisorProcess supervisor = SupervisorProcess.launchUnder(List.of("nohup"), tmp, Map.of(),
                "--workers", "1")) {
            String warning = supervisor.awaitStderr(l -> l.contains("SIGHUP was ignored"), Duration.ofSeconds(30));
            assertThat(warning).as(supervisor.stderr()).isNotNull().contains("WARN")
                    .endsWith("SIGHUP will not reload. Start the supervisor without ignoring it (systemd, a "
                            + "terminal, setsid; not nohup)");
        }
    }

    /**
     * logrotate's postrotate sends the supervisor SIGUSR1: every worker reopens its access log (a file per worker
     * here, {@code {slot}} in the name), so both files are created again at their old paths after being moved away.
     */
    @Test
    void sigusr1MakesEveryWorkerReopenItsAccessLog() throws Exception {
        Path logs = Files.createDirectories(tmp.resolve("logs"));
        try (SupervisorProcess supervisor = SupervisorProcess.start(tmp, "--workers", "2", "--access-log",
                logs.resolve("access-{slot}.log").toString())) {
            List<Path> files = List.of(logs.resolve("access-0.log"), logs.resolve("access-1.log"));
            assertThat(files).allMatch(Files::exists);
            for (Path file : files) {
                Files.move(file, file.resolveSibling(file.getFileName() + ".1"));
            }
            Process kill = new ProcessBuilder("kill", "-USR1", Long.toString(supervisor.pid())).start();
            assertThat(kill.waitFor(10, TimeUnit.SECONDS) && kill.exitValue() == 0).isTrue();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!files.stream().allMatch(Files::exists)) {
                assertThat(System.nanoTime()).as("both access logs reopened; log:%n%s", supervisor.stderr())
                        .isLessThan(deadline);
                Thread.sleep(50);
            }
            assertThat(supervisor.stderr()).contains("SIGUSR1: workers reopen their access logs");
            // and the workers still serve, their lines going to the new files
            HttpClient client = client(HttpClient.Version.HTTP_2);
            for (int i = 0; i < 4; i++) {
                assertThat(get(client, supervisor.port(), "/whoami").statusCode()).isEqualTo(200);
            }
        }
    }

    @Test
    void bothWorkersServeNewConnections() throws Exception {
        try (SupervisorProcess supervisor = SupervisorProcess.start(tmp, "--workers", "2")) {
            Set<Integer> seen = new HashSet<>();
            // A new client is a new connection from a new source port; the kernel spreads those over the slots.
            for (int i = 0; i < 40 && seen.size() < 2; i++) {
                HttpClient client = client(HttpClient.Version.HTTP_1_1);
                seen.add(worker(get(client, supervisor.port(), "/whoami").body()));
            }
            assertThat(seen).containsExactlyInAnyOrder(0, 1);
            assertThat(status(supervisor)).hasSize(2).allMatch(l -> l.contains("state ready"));
        }
    }

    @Test
    void killedWorkerComesBackOnTheSameSocketWhileTheOtherKeepsServing() throws Exception {
        try (SupervisorProcess supervisor = SupervisorProcess.start(tmp, "--workers", "2")) {
            // One HTTP/2 connection, held by whichever worker accepted it: that one survives, the other is killed.
            HttpClient held = client(HttpClient.Version.HTTP_2);
            int survivor = worker(get(held, supervisor.port(), "/whoami").body());
            int victim = 1 - survivor;
            long victimPid = pidOf(supervisor, victim);
            long udpInode = udpSocketInode(victimPid, supervisor.port());

            AtomicInteger ok = new AtomicInteger();
            AtomicInteger failed = new AtomicInteger();
            CompletableFuture<Void> load = CompletableFuture.runAsync(() -> {
                for (int i = 0; i < 300; i++) {
                    try {
                        HttpResponse<String> response = get(held, supervisor.port(), "/whoami");
                        if (response.statusCode() == 200 && worker(response.body()) == survivor) {
                            ok.incrementAndGet();
                        } else {
                            failed.incrementAndGet();
                        }
                    } catch (Exception e) {
                        failed.incrementAndGet();
                    }
                }
            }, clients);
            ProcessHandle.of(victimPid).orElseThrow().destroyForcibly();

            long respawned = awaitReadyWithNewPid(supervisor, victim, victimPid, Duration.ofSeconds(30));
            load.get(60, TimeUnit.SECONDS);
            assertThat(failed.get()).as("requests failed on the surviving worker's connection").isZero();
            assertThat(ok.get()).isEqualTo(300);
            // The same UDP socket (inode) went to the respawned worker: the reuseport group did not change.
            assertThat(udpSocketInode(respawned, supervisor.port())).isEqualTo(udpInode);
            assertThat(status(supervisor).get(victim)).contains("restarts 1").contains("killed (SIGKILL)");
        }
    }

    @Test
    void sigtermLetsInFlightRequestsFinishAndExitsZero() throws Exception {
        try (SupervisorProcess supervisor = SupervisorProcess.start(tmp, "--workers", "2", "--drain-timeout", "15s")) {
            HttpClient client = client(HttpClient.Version.HTTP_2);
            CompletableFuture<HttpResponse<String>> sse = CompletableFuture.supplyAsync(() ->
                    send(client, supervisor.port(), "/sse?interval=150ms"), clients);
            CompletableFuture<HttpResponse<String>> download = CompletableFuture.supplyAsync(() ->
                    send(client(HttpClient.Version.HTTP_1_1), supervisor.port(), "/bytes/100m"), clients);
            assertThat(supervisor.awaitStderr(l -> l.contains("GET /sse"), Duration.ofMillis(500))).isNull();
            supervisor.terminate();
            HttpResponse<String> events = sse.get(60, TimeUnit.SECONDS);
            assertThat(events.body().lines().filter(l -> l.startsWith("data: {\"i\"")).count()).isEqualTo(20);
            assertThat(download.get(60, TimeUnit.SECONDS).body()).hasSize(100 << 20);
            assertThat(supervisor.awaitExit(Duration.ofSeconds(30))).as(supervisor.stderr()).isZero();
        }
    }

    @Test
    void sighupReplacesEveryWorkerWithoutFailingARequestAndLoadsTheNewCertificate() throws Exception {
        Path cert = tmp.resolve("tls/cert.pem");
        Path key = tmp.resolve("tls/key.pem");
        Path newCert = tmp.resolve("tls/new-cert.pem");
        Path newKey = tmp.resolve("tls/new-key.pem");
        Files.createDirectories(cert.getParent());
        selfSigned("localhost", cert, key);
        selfSigned("localhost", newCert, newKey);
        java.security.cert.X509Certificate renewedCert = readCertificate(newCert);
        try (SupervisorProcess supervisor = SupervisorProcess.start(tmp, "--workers", "2", "--cert", cert.toString(),
                "--key", key.toString())) {
            // Clients trust both certificates, as they would trust one CA that signed both.
            SSLContext trustA = trust(cert, newCert);
            AtomicInteger ok = new AtomicInteger();
            AtomicInteger failed = new AtomicInteger();
            java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            List<String> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
            Runnable newConnections = () -> {
                for (int i = 0; i < 2000 && !stop.get(); i++) {
                    try {
                        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2)
                                .sslContext(trustA).build();
                        // (not /healthz: a draining worker answers it 503 on purpose, so balancers move on)
                        assertThat(get(client, supervisor.port(), "/whoami").statusCode()).isEqualTo(200);
                        ok.incrementAndGet();
                    } catch (Throwable e) {
                        failed.incrementAndGet();
                        failures.add(e.toString());
                    }
                }
            };
            HttpClient longClient = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).sslContext(trustA)
                    .build();
            Runnable longRequests = () -> {
                for (int i = 0; i < 200 && !stop.get(); i++) {
                    try {
                        HttpResponse<String> events = get(longClient, supervisor.port(), "/sse?n=10&interval=100ms");
                        assertThat(events.body().lines().filter(l -> l.startsWith("data: {\"i\"")).count())
                                .isEqualTo(10);
                        ok.incrementAndGet();
                    } catch (Throwable e) {
                        failed.incrementAndGet();
                        failures.add(e.toString());
                    }
                }
            };
            List<CompletableFuture<Void>> load = List.of(CompletableFuture.runAsync(newConnections, clients),
                    CompletableFuture.runAsync(longRequests, clients), CompletableFuture.runAsync(longRequests, clients));
            long before = ok.get();
            awaitCount(ok, before + 20, Duration.ofSeconds(30));

            // A renewed certificate lands on disk, then the operator reloads.
            Files.move(newKey, key, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Files.move(newCert, cert, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            new ProcessBuilder("kill", "-HUP", Long.toString(supervisor.pid())).start().waitFor(10, TimeUnit.SECONDS);
            assertThat(supervisor.awaitStderr(l -> l.contains("reload complete"), Duration.ofSeconds(90)))
                    .as(supervisor.stderr()).isNotNull();
            long afterReload = ok.get();
            awaitCount(ok, afterReload + 20, Duration.ofSeconds(30));
            stop.set(true);
            CompletableFuture.allOf(load.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);

            assertThat(failures).as("failed requests during the reload").isEmpty();
            assertThat(failed.get()).isZero();
            assertThat(status(supervisor)).allMatch(l -> l.contains("state ready") && l.contains("restarts 1"));
            // New connections now get the renewed certificate.
            HttpClient renewed = HttpClient.newBuilder().sslContext(trust(cert)).build(); // now the renewed one
            HttpResponse<String> response = get(renewed, supervisor.port(), "/healthz");
            assertThat(response.statusCode()).isEqualTo(200);
            java.security.cert.X509Certificate served = (java.security.cert.X509Certificate)
                    response.sslSession().orElseThrow().getPeerCertificates()[0];
            assertThat(served).isEqualTo(renewedCert);
        }
    }

    @Test
    void killedSupervisorLeavesNoWorkerBehindAfterTwoSeconds() throws Exception {
        try (SupervisorProcess supervisor = SupervisorProcess.start(tmp, "--workers", "2")) {
            List<Long> workers = supervisor.workerPids();
            assertThat(workers).hasSize(2);
            // A request in flight when the supervisor dies: the orphan's drain must not wait for it beyond its bound.
            HttpResponse<InputStream> slow = HttpClient.newBuilder().sslContext(trust()).build()
                    .sendAsync(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + supervisor.port()
                            + "/sse?n=100&interval=100ms")).build(), HttpResponse.BodyHandlers.ofInputStream())
                    .get(30, TimeUnit.SECONDS);
            assertThat(slow.body().read()).as("first event arrived: the request is in flight").isNotNegative();
            long killed = System.nanoTime();
            ProcessHandle.of(supervisor.pid()).orElseThrow().destroyForcibly();
            // Not ProcessHandle.onExit(): for a process that is not our child it polls every 300+ ms. The clock
            // starts when the supervisor is gone: the kernel closes a killed process's sockets (which is how its
            // workers learn of it) only after tearing down its memory, 0.1-0.9 s after kill -9 on a loaded machine.
            long deadline = killed + TimeUnit.SECONDS.toNanos(10);
            long supervisorGone = 0;
            Object monitor = new Object();
            while (!workers.stream().allMatch(SupervisorIT::exited) && System.nanoTime() < deadline) {
                if (supervisorGone == 0 && exited(supervisor.pid())) {
                    supervisorGone = System.nanoTime();
                }
                synchronized (monitor) {
                    monitor.wait(5);
                }
            }
            long workersGone = System.nanoTime();
            if (supervisorGone == 0) {
                supervisorGone = workersGone;
            }
            Duration afterDeath = Duration.ofNanos(workersGone - supervisorGone);
            System.out.printf("orphaned workers gone %d ms after kill -9 of the supervisor, %d ms after it was gone%n",
                    Duration.ofNanos(workersGone - killed).toMillis(), afterDeath.toMillis());
            assertThat(afterDeath).as("README: workers exit within 2 s of their supervisor's death")
                    .isLessThanOrEqualTo(Duration.ofSeconds(2));
            slow.body().close();
        }
    }

    /**
     * One cluster per port: a second supervisor on a port in use, with its own control socket and shared map, exits 2
     * with one line instead of silently taking half the traffic through SO_REUSEPORT; so does a supervisor on a port
     * that another process of this user holds with SO_REUSEPORT. The first cluster keeps serving.
     */
    @Test
    void aSecondSupervisorOnThePortExitsTwoWithOneLine() throws Exception {
        try (SupervisorProcess first = SupervisorProcess.start(tmp, "--workers", "1", "--metrics-address", "off")) {
            Path second = Files.createDirectories(tmp.resolve("second"));
            try (SupervisorProcess other = SupervisorProcess.launch(second, "--workers", "1", "--metrics-address",
                    "off", "--port", Integer.toString(first.port()), "--shm-path", second.resolve("shm").toString())) {
                assertThat(other.awaitExit(Duration.ofSeconds(60))).as(other.stderr()).isEqualTo(2);
                List<String> errors = other.stderr().lines().filter(l -> l.startsWith("error:")).toList();
                assertThat(errors).as(other.stderr()).singleElement().asString().startsWith("error: port "
                        + first.port() + " is in use by another quicfleet cluster (supervisor pid " + first.pid())
                        .contains("stop that supervisor", "or choose another --port");
                assertThat(other.workerPids()).isEmpty();
            }
            assertThat(get(client(HttpClient.Version.HTTP_2), first.port(), "/healthz").statusCode()).isEqualTo(200);
            assertThat(ProcessHandle.of(first.pid()).map(ProcessHandle::isAlive)).contains(true);
        }
        try (java.nio.channels.DatagramChannel reusePort = java.nio.channels.DatagramChannel.open()) {
            reusePort.setOption(java.net.StandardSocketOptions.SO_REUSEPORT, true);
            reusePort.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            int port = ((InetSocketAddress) reusePort.getLocalAddress()).getPort();
            assertFails(List.of("--workers", "1", "--port", Integer.toString(port)),
                    "error: failed to bind UDP 127.0.0.1:" + port + ": address already in use (another process holds "
                    + "this port: stop it or choose another --port)");
        }
    }

    @Test
    void jsonLogsAreOneObjectPerLineTaggedWithTheirProcess() throws Exception {
        try (SupervisorProcess supervisor = SupervisorProcess.start(tmp, "--workers", "2", "--log-format", "json")) {
            get(client(HttpClient.Version.HTTP_2), supervisor.port(), "/healthz");
            supervisor.terminate();
            assertThat(supervisor.awaitExit(Duration.ofSeconds(30))).isZero();
            var json = new com.fasterxml.jackson.databind.ObjectMapper();
            Set<String> processes = new HashSet<>();
            for (String line : supervisor.stderr().lines().filter(l -> !l.isBlank()).toList()) {
                var event = json.readTree(line);
                assertThat(event.path("level").asText()).as(line).isNotEmpty();
                assertThat(event.path("formattedMessage").asText()).as(line).isNotEmpty();
                processes.add(event.path("context").path("properties").path("process").asText());
            }
            assertThat(processes).containsExactlyInAnyOrder("supervisor", "worker 0", "worker 1");
        }
    }

    @Test
    void badInputExitsTwoWithOneClearLine() throws Exception {
        assertFails(List.of("--workers", "0"), "error: workers: 0 (expected: 1..256)");
        assertFails(List.of("--workers", "2", "--no-such-worker-flag"), "error: Unknown option: '--no-such-worker-flag'");
        assertFails(List.of("--workers", "2", "--cert", tmp.resolve("nope.pem").toString(), "--key",
                tmp.resolve("nope.pem").toString()), "error: certificate file not found: " + tmp.resolve("nope.pem"));
        Path readable = Files.write(tmp.resolve("readable-secret"), new byte[32]);
        Files.setPosixFilePermissions(readable, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        assertFails(List.of("--workers", "2", "--cluster-secret", readable.toString()),
                "error: cluster secret " + readable + " is readable or writable by group or others");
        Path shortSecret = Files.write(tmp.resolve("short-secret"), new byte[10]);
        Files.setPosixFilePermissions(shortSecret, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        assertFails(List.of("--workers", "2", "--cluster-secret", shortSecret.toString()),
                "error: cluster secret " + shortSecret + " has 10 bytes (expected: at least 32 random bytes");
        Path notADirectory = Files.writeString(tmp.resolve("a-file"), "");
        assertFails(List.of("--workers", "2", "--shm-path", notADirectory.resolve("shm").toString()),
                "error: shared ticket keys: cannot create the shared secrets directory " + notADirectory.resolve("shm")
                + " (" + notADirectory + " is not a directory; expected: a path this user can create, on tmpfs");
        assertFails(List.of("--workers", "2", "--retry", "sometimes"),
                "error: retry: sometimes (expected: auto, always or never)");
        try (DatagramSocket taken = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            assertFails(List.of("--workers", "2", "--port", Integer.toString(taken.getLocalPort())),
                    "error: failed to bind UDP 127.0.0.1:" + taken.getLocalPort() + ": address already in use");
        }
    }

    private void assertFails(List<String> args, String line) throws Exception {
        try (SupervisorProcess supervisor = SupervisorProcess.launch(tmp, args.toArray(String[]::new))) {
            assertThat(supervisor.awaitExit(Duration.ofSeconds(60))).as(supervisor.stderr()).isEqualTo(2);
            List<String> errors = supervisor.stderr().lines().filter(l -> l.startsWith("error:")).toList();
            assertThat(errors).as(supervisor.stderr()).hasSize(1);
            assertThat(errors.get(0)).startsWith(line);
            assertThat(supervisor.workerPids()).isEmpty();
        }
    }

    // ---- helpers ----

    /**
     * Whether {@code pid} has exited: gone, or a zombie. An orphan's exit is reaped by whoever adopted it (pid 1 or a
     * subreaper), which in some containers happens seconds later; that is not the worker's time.
     */
    private static boolean exited(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            char state = stat.charAt(stat.lastIndexOf(')') + 2);
            return state == 'Z' || state == 'X';
        } catch (java.io.IOException e) {
            return true;
        }
    }

    private static void selfSigned(String cn, Path cert, Path key) throws Exception {
        Process openssl = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=" + cn, "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key.toString(), "-out", cert.toString())
                .redirectErrorStream(true).start();
        String output = new String(openssl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(openssl.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(openssl.exitValue()).as(output).isZero();
    }

    private static java.security.cert.X509Certificate readCertificate(Path pem) throws Exception {
        return TestTls.certificate(pem);
    }

    private static SSLContext trust(Path... pems) throws Exception {
        return TestTls.trusting(pems);
    }

    private static void awaitCount(AtomicInteger counter, long atLeast, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        Object monitor = new Object();
        while (counter.get() < atLeast) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("only " + counter.get() + " requests within " + timeout);
            }
            synchronized (monitor) {
                monitor.wait(50);
            }
        }
    }

    private SSLContext trust() throws Exception {
        return TestTls.trusting(tmp.resolve("state/dev-cert.pem"));
    }

    private HttpClient client(HttpClient.Version version) {
        try {
            return HttpClient.newBuilder().version(version).sslContext(trust()).connectTimeout(Duration.ofSeconds(10))
                    .build();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static HttpResponse<String> get(HttpClient client, int port, String path) throws Exception {
        return client.send(HttpRequest.newBuilder(URI.create("https://localhost:" + port + path))
                .timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> send(HttpClient client, int port, String path) {
        try {
            return get(client, port, path);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static int worker(String whoami) {
        Matcher m = WORKER.matcher(whoami);
        assertThat(m.find()).as(whoami).isTrue();
        return Integer.parseInt(m.group(1));
    }

    /** The supervisor's slot table, through the same code path as {@code supervisor status}. */
    private static List<String> status(SupervisorProcess supervisor) {
        StringWriter out = new StringWriter();
        int code = SupervisorMain.run(new String[] {"status", "--control-socket", supervisor.controlSocket().toString()},
                new PrintWriter(out), new PrintWriter(new StringWriter()));
        assertThat(code).isZero();
        return out.toString().lines().toList();
    }

    private static long pidOf(SupervisorProcess supervisor, int slot) {
        String line = status(supervisor).get(slot);
        Matcher m = Pattern.compile("slot " + slot + " pid (\\d+) state ready").matcher(line);
        assertThat(m.find()).as(line).isTrue();
        return Long.parseLong(m.group(1));
    }

    private static long awaitReadyWithNewPid(SupervisorProcess supervisor, int slot, long oldPid, Duration timeout)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        Object monitor = new Object();
        while (System.nanoTime() < deadline) {
            String line = status(supervisor).get(slot);
            Matcher m = Pattern.compile("pid (\\d+) state ready").matcher(line);
            if (m.find() && Long.parseLong(m.group(1)) != oldPid) {
                return Long.parseLong(m.group(1));
            }
            synchronized (monitor) {
                monitor.wait(100);
            }
        }
        throw new AssertionError("slot " + slot + " not serving again within " + timeout + "; stderr:\n"
                + supervisor.stderr());
    }

    /** The inode of the UDP socket on {@code port} that process {@code pid} holds (from /proc). */
    private static long udpSocketInode(long pid, int port) throws Exception {
        Set<Long> portInodes = new HashSet<>();
        String hexPort = String.format(Locale.ROOT, ":%04X", port);
        // Netty's raw sockets are dual-stack IPv6: they are listed in udp6 (IPv4-only ones in udp).
        for (String table : List.of("/proc/net/udp", "/proc/net/udp6")) {
            for (String line : Files.readAllLines(Path.of(table))) {
                String[] f = line.trim().split("\\s+");
                if (f.length > 9 && f[1].endsWith(hexPort)) {
                    portInodes.add(Long.parseLong(f[9]));
                }
            }
        }
        Set<Long> held = new HashSet<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    String target = Files.readSymbolicLink(fd).toString();
                    if (target.startsWith("socket:[")) {
                        held.add(Long.parseLong(target.substring(8, target.length() - 1)));
                    }
                } catch (java.io.IOException ignored) {
                    // fd closed meanwhile
                }
            }
        }
        held.retainAll(portInodes);
        assertThat(held).as("UDP sockets on port %d held by pid %d", port, pid).hasSize(1);
        return held.iterator().next();
    }
}
