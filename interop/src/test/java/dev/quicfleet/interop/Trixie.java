package dev.quicfleet.interop;

import dev.quicfleet.worker.Peers;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Debian trixie chroot that scripts/interop builds with debootstrap (curl, python3-aioquic, python3-pycurl), by
 * default in ~/.cache/quicfleet/trixie ({@code -Dquicfleet.interop.trixie=DIR}). {@code chroot} shares the network
 * namespace, so its clients reach the cluster on 127.0.0.1. Each case's files live under the chroot's /tmp.
 */
final class Trixie {

    static final Path ROOT = Path.of(System.getProperty("quicfleet.interop.trixie",
            System.getProperty("user.home") + "/.cache/quicfleet/trixie"));
    private static final Path SCRATCH = Path.of("/tmp/quicfleet-interop-" + ProcessHandle.current().pid());

    private Trixie() {
    }

    /** Null if {@code binary} (a path inside the chroot) is there, else why the column is N/A. */
    static String unavailable(String binary, String packages) {
        if (!Files.isExecutable(Path.of("/usr/sbin/chroot"))) {
            return "no /usr/sbin/chroot";
        }
        if (!Files.isDirectory(ROOT)) {
            return "no Debian trixie chroot at " + ROOT + " (scripts/interop builds it with debootstrap)";
        }
        if (!Files.exists(ROOT.resolve(binary.substring(1)))) {
            return binary + " is not in the chroot at " + ROOT + " (scripts/interop installs " + packages + ")";
        }
        return null;
    }

    /** A new empty directory visible inside the chroot; returns its path inside the chroot. */
    static Path directory(String client, Case c) throws IOException {
        Path inside = SCRATCH.resolve(client).resolve(c.label);
        Files.createDirectories(outside(inside));
        return inside;
    }

    /** Where a path inside the chroot is on the host. */
    static Path outside(Path inside) {
        return ROOT.resolve(inside.toString().substring(1));
    }

    /** Copies a resource of this package (a client script) into the chroot; returns its path inside. */
    static Path script(String name) throws IOException {
        Path inside = SCRATCH.resolve(name);
        Files.createDirectories(outside(SCRATCH));
        try (InputStream in = Trixie.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("resource " + name + " is missing from the test class path");
            }
            Files.copy(in, outside(inside), StandardCopyOption.REPLACE_EXISTING);
        }
        return inside;
    }

    /** Runs {@code command} inside the chroot (bounded by {@code timeout}). */
    static Peers.Run run(List<String> command, Duration timeout) throws IOException, InterruptedException {
        List<String> all = new ArrayList<>(List.of("/usr/sbin/chroot", ROOT.toString()));
        all.addAll(command);
        return Peers.run(all, timeout, null, line -> { }, line -> { });
    }

    /** Removes this run's files from the chroot. */
    static void clean() throws IOException {
        Path dir = outside(SCRATCH);
        if (Files.isDirectory(dir)) {
            try (var files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** How many times {@code regex} occurs in {@code text}. */
    static int count(String text, String regex) {
        Matcher m = Pattern.compile(regex).matcher(text);
        int n = 0;
        while (m.find()) {
            n++;
        }
        return n;
    }
}
