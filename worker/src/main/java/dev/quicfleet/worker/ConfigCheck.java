package dev.quicfleet.worker;

import dev.quicfleet.transport.Transport;
import dev.quicfleet.transport.TransportUnavailableException;
import dev.quicfleet.worker.site.AppLoader;
import dev.quicfleet.worker.site.SiteRoutes;
import dev.quicfleet.worker.tls.TlsConfigException;
import dev.quicfleet.worker.tls.TlsMaterial;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Locale;
import picocli.CommandLine;

/**
 * {@code java -cp quicfleet-worker.jar dev.quicfleet.worker.ConfigCheck [worker options]}: what {@code quicfleet
 * check-config} runs for the worker's options. Parses them as a worker does (flags and {@code --config FILE}), loads
 * and checks the certificate and key, the sites (every app's class is loaded from its jar and checked, not
 * instantiated), and picks the transport, without binding a socket or serving. Exits 0 when a worker would start
 * with them, 2 with the worker's own message when not.
 */
public final class ConfigCheck {

    private ConfigCheck() {
    }

    /** Checks {@code args}; exits the JVM with 0 (fine) or 2 (the operator must fix something). */
    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    static int run(String[] args, PrintWriter out, PrintWriter err) {
        WorkerMain.Parsed parsed;
        try {
            parsed = WorkerMain.parseAll(args, out);
            if (parsed != null && parsed.sites() != null) {
                try (AppLoader apps = new AppLoader(ConfigCheck.class.getClassLoader())) {
                    SiteRoutes.check(parsed.sites(), apps);
                }
            }
        } catch (CommandLine.ParameterException | IllegalArgumentException e) {
            err.println("error: " + e.getMessage());
            return WorkerMain.EXIT_CONFIG;
        }
        if (parsed == null) {
            return 0; // help was printed
        }
        WorkerConfig config = parsed.config();
        if (parsed.sites() != null) {
            long routes = parsed.sites().sites().stream().mapToLong(site -> site.routes().size()).sum();
            out.println("worker: sites " + parsed.sites().sites().size() + ", routes " + routes);
        }
        try {
            Transport transport = Worker.resolveTransport(config);
            out.println("worker: transport " + transport.id());
        } catch (TransportUnavailableException | IllegalArgumentException e) {
            err.println("error: " + e.getMessage());
            return WorkerMain.EXIT_CONFIG;
        }
        if (config.accessLog() != null) {
            // the worker creates the file; here only its directory is checked, nothing is written
            Path file = Path.of(config.accessLog().replace("{slot}", "0")).toAbsolutePath();
            Path dir = file.getParent();
            if (Files.isDirectory(file) || dir == null || !Files.isDirectory(dir) || !Files.isWritable(dir)
                    && !Files.isWritable(file)) {
                err.println("error: access-log: cannot write " + file + " (expected: a file in an existing directory "
                        + "this user may write to)");
                return WorkerMain.EXIT_CONFIG;
            }
            out.println("worker: access log " + config.accessLog() + " (" + config.accessLogFormat().name()
                    .toLowerCase(Locale.ROOT) + ")");
        }
        if (config.cert() == null) {
            out.println("worker: no --cert/--key: a self-signed development certificate for localhost (not for "
                    + "production)");
            return 0;
        }
        try {
            TlsMaterial tls = TlsMaterial.load(config.cert(), config.key(), Clock.systemUTC());
            out.println("worker: certificate " + tls.describe());
        } catch (TlsConfigException e) {
            err.println("error: " + e.getMessage());
            return WorkerMain.EXIT_CONFIG;
        }
        return 0;
    }
}
