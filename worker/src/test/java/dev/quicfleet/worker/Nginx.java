package dev.quicfleet.worker;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Debian's nginx (package nginx-light, installed by {@code scripts/install-test-deps}) as a real HTTP/1.1 upstream:
 * started in the foreground on a loopback port with its own configuration, logs and temporary files in {@code dir},
 * stopped by the master pid from its pid file. The echo module of nginx-light lets it stream slowly.
 */
final class Nginx implements AutoCloseable {

    static final String BINARY = "/usr/sbin/nginx";
    static final String ECHO_MODULE = "/usr/lib/nginx/modules/ngx_http_echo_module.so";

    private final Path dir;
    private final int port;
    private final Process process;

    private Nginx(Path dir, int port, Process process) {
        this.dir = dir;
        this.port = port;
        this.process = process;
    }

    /**
     * Starts nginx in {@code dir} with the {@code server} block body {@code locations} (nginx syntax; {@code $DIR}
     * stands for {@code dir}); the access log ({@link #accessLog()}) uses the format {@code fwd}, {@code logFormat}.
     */
    static Nginx start(Path dir, String logFormat, String locations) throws IOException, InterruptedException {
        return start(dir, 0, logFormat, locations);
    }

    /**
     * {@link #start(Path, String, String)} on {@code port} (0: a free one), e.g. again on the port of an nginx that
     * was killed, in the same directory (its access log is appended to).
     */
    static Nginx start(Path dir, int port, String logFormat, String locations)
            throws IOException, InterruptedException {
        Peers.requireInstalled(BINARY);
        if (!Files.exists(Path.of(ECHO_MODULE))) {
            throw new IllegalStateException(ECHO_MODULE + " is missing: install nginx-light (./scripts/install-test-deps)");
        }
        for (String sub : List.of("body", "proxy", "fastcgi", "uwsgi", "scgi")) {
            Files.createDirectories(dir.resolve(sub));
        }
        if (port == 0) {
            try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                port = probe.getLocalPort();
            }
        }
        Files.deleteIfExists(dir.resolve("nginx.pid")); // a killed nginx leaves its pid file behind
        // As root, nginx's workers would switch to "nobody", who cannot read a private test directory.
        String user = System.getProperty("user.name").equals("root") ? "user root root;\n" : "";
        String config = """
                load_module %1$s;
                %2$sworker_processes 1;
                daemon off;
                pid %3$s/nginx.pid;
                error_log %3$s/error.log info;
                events { worker_connections 512; }
                http {
                  access_log off;
                  default_type application/octet-stream;
                  client_body_temp_path %3$s/body;
                  proxy_temp_path %3$s/proxy;
                  fastcgi_temp_path %3$s/fastcgi;
                  uwsgi_temp_path %3$s/uwsgi;
                  scgi_temp_path %3$s/scgi;
                  log_format fwd '%4$s';
                  server {
                    listen 127.0.0.1:%5$d;
                    access_log %3$s/access.log fwd;
                    client_max_body_size 0;
                    keepalive_requests 100000;
                %6$s
                  }
                }
                """.formatted(ECHO_MODULE, user, dir, logFormat, port, locations.replace("$DIR", dir.toString()));
        Path conf = dir.resolve("nginx.conf");
        Files.writeString(conf, config);
        Process process = new ProcessBuilder(BINARY, "-p", dir.toString(), "-c", conf.toString(),
                "-e", dir.resolve("error.log").toString())
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("stdout.log").toFile())
                .start();
        Nginx nginx = new Nginx(dir, port, process);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!nginx.accepting()) {
            if (!process.isAlive() || System.nanoTime() > deadline) {
                nginx.close();
                throw new IllegalStateException("nginx did not start on 127.0.0.1:" + port + ": "
                        + Files.readString(dir.resolve("error.log"), StandardCharsets.UTF_8));
            }
            TimeUnit.MILLISECONDS.sleep(20);
        }
        return nginx;
    }

    private boolean accepting() {
        if (!Files.exists(dir.resolve("nginx.pid"))) {
            return false;
        }
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1000);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    int port() {
        return port;
    }

    String url() {
        return "http://127.0.0.1:" + port;
    }

    Path accessLog() {
        return dir.resolve("access.log");
    }

    /** The access log's lines so far. */
    /**
     * The access-log line for {@code request} ("METHOD URI", the line's first field), waiting up to 10 s for it: nginx
     * writes it as the response ends.
     */
    String awaitAccessLine(String request) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            Optional<String> line = accessLines().stream().filter(l -> l.startsWith(request + "|")).findFirst();
            if (line.isPresent()) {
                return line.get();
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("nginx logged no \"" + request + "\"; its log: " + accessLines());
            }
            TimeUnit.MILLISECONDS.sleep(20);
        }
    }

    List<String> accessLines() throws IOException {
        return Files.exists(accessLog()) ? Files.readAllLines(accessLog()) : List.of();
    }

    /** The master's pid, from its pid file. */
    Optional<Long> masterPid() {
        try {
            return Optional.of(Long.parseLong(Files.readString(dir.resolve("nginx.pid")).trim()));
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    /**
     * Kills nginx as a crash would: SIGKILL to the master (its pid from the pid file) and then to its workers, each
     * by pid, and waits (bounded) until all are gone. Master first, so that it cannot start a new worker.
     */
    void kill() throws InterruptedException {
        long master = masterPid().orElseThrow(() -> new IllegalStateException("nginx has no pid file in " + dir));
        List<ProcessHandle> all = new ArrayList<>();
        ProcessHandle.of(master).ifPresent(p -> {
            all.add(p);
            all.addAll(p.children().toList());
        });
        all.forEach(ProcessHandle::destroyForcibly);
        process.waitFor(10, TimeUnit.SECONDS); // reaps the master
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        for (ProcessHandle p : all) {
            while (running(p.pid())) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("nginx process " + p.pid() + " survived SIGKILL for 10 s");
                }
                TimeUnit.MILLISECONDS.sleep(5);
            }
        }
    }

    /** Whether {@code pid} runs: it exists and is not a zombie (a killed orphan may wait long to be reaped). */
    private static boolean running(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            return stat.charAt(stat.lastIndexOf(')') + 2) != 'Z';
        } catch (IOException e) {
            return false;
        }
    }

    /** Stops nginx: SIGTERM to the master (fast shutdown: its workers go with it), SIGKILL after 5 s. */
    @Override
    public void close() {
        long pid = masterPid().orElse(process.pid());
        ProcessHandle.of(pid).ifPresent(ProcessHandle::destroy);
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                ProcessHandle.of(pid).ifPresent(p -> p.descendants().forEach(ProcessHandle::destroyForcibly));
                ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
