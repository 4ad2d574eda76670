package dev.quicfleet.worker.example;

import dev.quicfleet.http.Request;
import dev.quicfleet.http.Response;
import dev.quicfleet.http.Router;
import dev.quicfleet.worker.Worker;
import dev.quicfleet.worker.WorkerConfig;
import dev.quicfleet.worker.services.StaticFiles;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;

/**
 * The runnable example of docs/HANDLERS.md: a site with plain blocking handlers, served over HTTP/3, HTTP/2 and
 * HTTP/1.1 by one worker.
 *
 * <pre>
 * ./mvnw -q -DskipTests install -pl worker -am && ./mvnw -q test-compile -pl worker
 * java @scripts/jvm/base.options -cp worker/target/quicfleet-worker.jar:worker/target/test-classes \
 *     dev.quicfleet.worker.example.HandlerExample 8443
 * </pre>
 */
public final class HandlerExample {

    private HandlerExample() {
    }

    /** The example's routes. */
    public static Router site(Path publicDir) {
        return Router.builder()
                .route("/hello", HandlerExample::hello)
                .route("/sha256", HandlerExample::sha256)
                .route("/countdown", HandlerExample::countdown)
                .route("/public", new StaticFiles(publicDir))
                .build();
    }

    /** A one-line response; the worker adds content-length, date and (over TCP) alt-svc. */
    static void hello(Request request, Response response) throws IOException {
        String name = request.queryParam("name");
        response.send(200, "text/plain; charset=utf-8",
                "hello " + (name == null ? "world" : name) + " over " + request.protocol() + "\n");
    }

    /**
     * Streams the request body through a digest: a 10 GB upload uses 64 KiB of memory, and a slow digest slows the
     * client down through flow control. The digest also goes out as a trailer.
     */
    static void sha256(Request request, Response response) throws Exception {
        if (!request.method().equals("POST")) {
            response.header("allow", "POST");
            response.send(405, "text/plain; charset=utf-8", "POST a body to hash it\n");
            return;
        }
        MessageDigest digest = MessageDigest.getInstance("SHA-256");
        long size = 0;
        byte[] buffer = new byte[64 * 1024];
        try (InputStream in = request.body()) {
            for (int n; (n = in.read(buffer)) >= 0; ) {
                digest.update(buffer, 0, n);
                size += n;
            }
        }
        String hex = HexFormat.of().formatHex(digest.digest());
        response.header("content-type", "text/plain; charset=utf-8");
        response.trailers().set("x-sha256", hex);
        try (OutputStream out = response.body()) {
            out.write((hex + "  " + size + " bytes\n").getBytes(StandardCharsets.UTF_8));
        }
    }

    /** Blocking code on a virtual thread: sleep, write, flush; each line reaches the client when flushed. */
    static void countdown(Request request, Response response) throws Exception {
        response.header("content-type", "text/plain; charset=utf-8");
        OutputStream out = response.body();
        for (int i = 3; i > 0; i--) {
            out.write((i + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            Thread.sleep(100);
        }
        out.write("lift-off\n".getBytes(StandardCharsets.UTF_8));
    }

    /** Starts the example on 127.0.0.1 and the port given (default 8443) with the development certificate. */
    public static void main(String[] args) throws Exception {
        Path publicDir = Files.createTempDirectory("quicfleet-example");
        Files.writeString(publicDir.resolve("index.html"), "<h1>static files work</h1>\n");
        WorkerConfig config = WorkerConfig.builder()
                .address(InetAddress.getLoopbackAddress())
                .port(args.length > 0 ? Integer.parseInt(args[0]) : 8443)
                .build();
        Worker worker = new Worker(config, site(publicDir));
        worker.start().join();
        System.out.println("try: curl -k https://localhost:" + worker.port() + "/hello?name=you");
        Runtime.getRuntime().addShutdownHook(new Thread(() -> worker.drain().join()));
        Thread.currentThread().join();
    }

}
