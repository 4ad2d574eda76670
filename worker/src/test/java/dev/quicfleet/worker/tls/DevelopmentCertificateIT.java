package dev.quicfleet.worker.tls;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Several worker JVMs starting at the same moment on one state directory. */
class DevelopmentCertificateIT {

    private static final int PROCESSES = 4;
    private static final long TIMEOUT_SECONDS = 60;

    @TempDir
    Path dir;

    private final List<Process> processes = new ArrayList<>();

    @AfterEach
    void killProcesses() throws InterruptedException {
        for (Process process : processes) {
            process.destroyForcibly();
            process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        }
    }

    @Test
    void processesStartingTogetherShareOneDevelopmentCertificate() throws Exception {
        Path stateDir = dir.resolve("state");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<BufferedReader> outputs = new ArrayList<>();
        for (int i = 0; i < PROCESSES; i++) {
            Process process = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                    DevelopmentCertificateProbe.class.getName(), stateDir.toString())
                    .redirectError(ProcessBuilder.Redirect.INHERIT)
                    .start();
            processes.add(process);
            outputs.add(new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)));
        }
        for (BufferedReader output : outputs) {
            awaitLine(output, "ready");
        }

        for (Process process : processes) {
            Writer go = process.outputWriter(StandardCharsets.US_ASCII);
            go.write("go\n");
            go.flush();
        }
        Set<String> hashes = new HashSet<>();
        for (BufferedReader output : outputs) {
            hashes.add(awaitLine(output, "spki "));
        }

        assertThat(hashes).as("SPKI hashes the processes serve").hasSize(1);
        for (Process process : processes) {
            assertThat(process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)).isTrue();
            assertThat(process.exitValue()).isZero();
        }
        try (Stream<Path> files = Files.list(stateDir)) {
            assertThat(files.map(file -> file.getFileName().toString()))
                    .containsExactlyInAnyOrder("dev-cert.pem", "dev-key.pem", "dev-cert.lock");
        }
        assertThat(TlsMaterial.load(stateDir.resolve("dev-cert.pem"), stateDir.resolve("dev-key.pem"),
                Clock.systemUTC()).spkiSha256Base64()).isIn(hashes);
    }

    /** The first line starting with {@code prefix}, with the prefix removed; other lines (logging) are skipped. */
    private static String awaitLine(BufferedReader output, String prefix) throws Exception {
        // readLine() cannot time out; a stuck probe is killed in @AfterEach, which ends the read.
        return CompletableFuture.supplyAsync(() -> {
            try {
                for (String line = output.readLine(); line != null; line = output.readLine()) {
                    if (line.startsWith(prefix)) {
                        return line.substring(prefix.length());
                    }
                }
                throw new IllegalStateException("probe exited before printing '" + prefix + "'");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }).get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }
}
