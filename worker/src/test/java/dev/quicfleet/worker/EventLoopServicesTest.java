package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quicfleet.http.Router;
import dev.quicfleet.metrics.HttpProtocol;
import dev.quicfleet.metrics.TimeoutReason;
import dev.quicfleet.worker.services.DemoSite;
import dev.quicfleet.worker.services.StaticFiles;
import dev.quicfleet.worker.services.WorkerIdentity;
import dev.quicfleet.worker.tls.TlsMaterial;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import javax.net.ssl.SSLSocket;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The built-in services run on the event loop: static files and the demo site start no virtual thread (JFR's
 * {@code jdk.VirtualThreadStart} events, the JVM's own count, while a blocking handler's request shows one), and a
 * 1 GiB file to a client that stops reading holds a bounded amount of the worker's memory until the body timeout
 * drops the client and closes the file. A worker in this JVM; Netty's HTTP/3 client and raw TLS sockets.
 */
class EventLoopServicesTest {

    private static final Duration BODY_TIMEOUT = Duration.ofSeconds(2);
    private static final long GIB = 1L << 30;

    @TempDir
    Path tmp;
    private Path big;
    private Worker worker;

    @BeforeEach
    void startWorker() throws IOException {
        Path www = Files.createDirectories(tmp.resolve("www"));
        Files.write(www.resolve("1k.bin"), new byte[1024]);
        big = www.resolve("1g.bin");
        try (RandomAccessFile file = new RandomAccessFile(big.toFile(), "rw")) {
            file.setLength(GIB); // sparse: a gibibyte to send, nothing on disk
        }
        Router.Builder routes = Router.builder()
                .route("/static", new StaticFiles(www))
                .route("/blocking", (request, response) -> response.send(200, "text/plain", "from a handler"));
        new DemoSite(new WorkerIdentity(0, ProcessHandle.current().pid(), "test"), () -> false).addTo(routes, true);
        worker = new Worker(WorkerConfig.builder()
                .address(InetAddress.getLoopbackAddress())
                .port(0)
                .stateDir(tmp.resolve("state"))
                .bodyTimeout(BODY_TIMEOUT)
                .build(), routes.build());
        worker.start().join();
    }

    @AfterEach
    void stopWorker() {
        worker.stop().join();
    }

    @Test
    void staticFilesAndTheDemoSiteStartNoVirtualThread() throws Exception {
        X509Certificate cert = TlsMaterial.developmentCertificate(tmp.resolve("state"), Clock.systemUTC()).leaf();
        List<String> paths = List.of("/static/1k.bin", "/whoami", "/healthz", "/bytes/64k", "/sse?n=2&interval=0ms",
                "/", "/static/missing");
        try (TestH3Client h3 = new TestH3Client(worker.port(), cert, 1 << 20); SSLSocket h1 = http1Socket()) {
            get(h3, "/blocking"); // warm-up: the virtual-thread executor exists before anything is counted

            long onTheLoop = virtualThreadsStartedWhile(() -> {
                for (int i = 0; i < 5; i++) {
                    for (String path : paths) {
                        get(h3, path);
                        assertThat(http1Get(h1, path)).startsWith("HTTP/1.1 ");
                    }
                }
            });
            long blocking = virtualThreadsStartedWhile(() -> get(h3, "/blocking"));

            assertThat(onTheLoop).as("virtual threads started by 70 static and demo requests").isZero();
            assertThat(blocking).as("virtual threads started by one blocking handler's request").isEqualTo(1);
        }
    }

    @Test
    void pipelinedHttp1RequestsAreAnsweredInOrderOnOneConnection() throws Exception {
        try (SSLSocket socket = http1Socket()) {
            // Four requests in one write: services answer while the next request is already in the buffer; a body
            // that follows its head in the same read must reach /echo, and the connection must stay open.
            socket.getOutputStream().write(("GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n"
                    + "POST /echo HTTP/1.1\r\nhost: localhost\r\ncontent-length: 5\r\n\r\nhello"
                    + "GET /static/1k.bin HTTP/1.1\r\nhost: localhost\r\n\r\n"
                    + "HEAD /whoami HTTP/1.1\r\nhost: localhost\r\n\r\n").getBytes(StandardCharsets.US_ASCII));

            assertThat(readResponse(socket.getInputStream(), false)).startsWith("HTTP/1.1 200").endsWith("ok\n");
            assertThat(readResponse(socket.getInputStream(), false)).startsWith("HTTP/1.1 200").endsWith("hello");
            String file = readResponse(socket.getInputStream(), false);
            assertThat(file).startsWith("HTTP/1.1 200").contains("content-length: 1024");
            assertThat(readResponse(socket.getInputStream(), true)).startsWith("HTTP/1.1 200")
                    .contains("content-type: application/json");
            assertThat(http1Get(socket, "/healthz")).as("still open").startsWith("HTTP/1.1 200");
        }
    }

    @Test
    void gibibyteFileToAnHttp3ClientThatStopsReadingHoldsBoundedMemory() throws Exception {
        X509Certificate cert = TlsMaterial.developmentCertificate(tmp.resolve("state"), Clock.systemUTC()).leaf();
        try (TestH3Client client = new TestH3Client(worker.port(), cert, 1 << 20)) {
            get(client, "/static/1k.bin");
            long before = usedDirectMemory();

            TestH3Client.Exchange exchange = client.get("/static/1g.bin", false); // never reads its stream
            long most = mostDirectMemoryUntil(() -> timeouts(HttpProtocol.H3) == 1);

            assertThat(most - before).as("direct memory the stalled download holds").isLessThan(16L << 20);
            awaitTrue(() -> !fileOpen(big), "the file closed after the client was dropped");
            TestH3Client.resume(exchange);
            assertThat(exchange.bodyBytes.get()).isLessThan(16L << 20);
        }
    }

    @Test
    void gibibyteFileToAnHttp1ClientThatStopsReadingHoldsBoundedMemory() throws Exception {
        try (SSLSocket socket = http1Socket()) {
            assertThat(http1Get(socket, "/static/1k.bin")).startsWith("HTTP/1.1 200");
            long before = usedDirectMemory();

            socket.getOutputStream().write("GET /static/1g.bin HTTP/1.1\r\nhost: localhost\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            assertThat(socket.getInputStream().read()).isEqualTo('H'); // the response started; now stop reading
            long most = mostDirectMemoryUntil(() -> timeouts(HttpProtocol.HTTP_1_1) == 1);

            assertThat(most - before).as("direct memory the stalled download holds").isLessThan(16L << 20);
            awaitTrue(() -> !fileOpen(big), "the file closed after the client was dropped");
        }
    }

    // ---- helpers ----

    interface Requests {
        void run() throws Exception;
    }

    /** How many virtual threads the JVM started while {@code requests} ran (JFR's own events). */
    static long virtualThreadsStartedWhile(Requests requests) throws Exception {
        Path dump = Files.createTempFile("vthreads", ".jfr");
        try (Recording recording = new Recording()) {
            recording.enable("jdk.VirtualThreadStart");
            recording.start();
            requests.run();
            recording.stop();
            recording.dump(dump);
            try (RecordingFile file = new RecordingFile(dump)) {
                long started = 0;
                while (file.hasMoreEvents()) {
                    RecordedEvent event = file.readEvent();
                    if (event.getEventType().getName().equals("jdk.VirtualThreadStart")) {
                        started++;
                    }
                }
                return started;
            }
        } finally {
            Files.deleteIfExists(dump);
        }
    }

    private static void get(TestH3Client client, String path) throws Exception {
        TestH3Client.Exchange exchange = client.get(path, true);
        exchange.done.get(10, TimeUnit.SECONDS);
        assertThat(exchange.headerFrames).isNotEmpty();
    }

    /** One HTTP/1.1 GET on a kept-alive connection: the head and the body of its content-length. */
    static String http1Get(SSLSocket socket, String path) throws IOException {
        socket.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nhost: localhost\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        return readResponse(socket.getInputStream(), false);
    }

    /** The next HTTP/1.1 response: its head, then its body as ISO-8859-1 ({@code head}: a response to HEAD). */
    private static String readResponse(InputStream in, boolean head) throws IOException {
        StringBuilder text = new StringBuilder();
        while (!text.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("closed after " + text);
            }
            text.append((char) b);
        }
        long length = -1;
        for (String line : text.toString().split("\r\n")) {
            if (line.toLowerCase().startsWith("content-length:")) {
                length = Long.parseLong(line.substring(15).trim());
            }
        }
        if (head) {
            return text.toString();
        }
        if (length < 0) {
            readChunked(in);
        } else {
            text.append(new String(in.readNBytes((int) length), StandardCharsets.ISO_8859_1));
        }
        return text.toString();
    }

    static void readChunked(InputStream in) throws IOException {
        while (true) {
            StringBuilder line = new StringBuilder();
            for (int b; (b = in.read()) != '\n'; ) {
                if (b < 0) {
                    throw new IOException("closed inside a chunked body");
                }
                line.append((char) b);
            }
            int size = Integer.parseInt(line.toString().trim(), 16);
            in.readNBytes(size + 2);
            if (size == 0) {
                return;
            }
        }
    }

    private SSLSocket http1Socket() throws Exception {
        return TestClients.http1Socket(new Socket(), worker.port(), tmp.resolve("state/dev-cert.pem"), 64 * 1024);
    }

    private long timeouts(HttpProtocol protocol) {
        return worker.metrics().timeouts(protocol, TimeoutReason.SEND);
    }

    static long usedDirectMemory() {
        return ((ByteBufAllocatorMetricProvider) ByteBufAllocator.DEFAULT).metric().usedDirectMemory();
    }

    /** The most direct memory the allocator held, sampled until {@code done} (within 20 s). */
    static long mostDirectMemoryUntil(BooleanSupplier done) throws InterruptedException {
        long most = usedDirectMemory();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the stalled client was not dropped within 20 s");
            }
            most = Math.max(most, usedDirectMemory());
            TimeUnit.MILLISECONDS.sleep(20); // a sampling interval, not a wait for a result
        }
        return Math.max(most, usedDirectMemory());
    }

    /** Whether this process has a file descriptor open on {@code file}. */
    private static boolean fileOpen(Path file) {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.anyMatch(fd -> {
                try {
                    return Files.readSymbolicLink(fd).equals(file.toRealPath());
                } catch (IOException e) {
                    return false; // closed while listing
                }
            });
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    static void awaitTrue(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within 20 s: " + what);
            }
            TimeUnit.MILLISECONDS.sleep(20);
        }
    }
}
