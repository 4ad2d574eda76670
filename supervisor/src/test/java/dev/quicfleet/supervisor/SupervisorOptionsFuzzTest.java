package dev.quicfleet.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.quicfleet.ticketcache.Rotation;
import dev.quicfleet.ticketcache.SharedSecretsConfig;
import dev.quicfleet.transport.ConnectionIds;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Fuzzes the supervisor's command line: picocli, {@code SupervisorMain.toConfig}, {@link SupervisorConfig}'s checks,
 * and the checks {@code SupervisorMain.run} makes before it binds anything (ticket rotation, {@code --shm-entries},
 * {@code --steering}, {@code --server-id}), in that order. Contract: a command line is accepted, or refused with
 * {@link CommandLine.ParameterException} or {@link IllegalArgumentException} — what {@code run} reports as one
 * "error: ..." line and exit code 2 — with a message an operator can act on; never another exception (a stack trace
 * and a supervisor that never started). Options that resolve host names or read files ({@code --address},
 * {@code --metrics-address}, {@code --cluster-secret}, a worker's {@code --config}) are left out: a fuzzer must not
 * send DNS queries. See docs/FUZZING.md.
 */
class SupervisorOptionsFuzzTest {

    private static final String[] OPTIONS = {
        "--workers", "--port", "--drain-timeout", "--worker-heap", "--worker-jvm-opts", "--ticket-key-rotation",
        "--ticket-lifetime", "--shm-entries", "--steering", "--server-id", "--pin-cpus", "--no-shared-tickets",
    };
    private static final Path WORKER_JAR = workerJar();

    @FuzzTest(maxDuration = "10s")
    void acceptsOrExplains(FuzzedDataProvider data) {
        List<String> args = new ArrayList<>(List.of("--worker-jar", WORKER_JAR.toString()));
        int count = data.consumeInt(0, 6);
        for (int i = 0; i < count; i++) {
            String option = data.pickValue(OPTIONS);
            String value = data.consumeString(24);
            if (value.startsWith("-") && !value.matches("-\\d.*")) {
                value = "x" + value; // never an option name: "--address" would resolve the next value by DNS
            }
            if (data.consumeBoolean()) {
                args.add(option + "=" + value);
            } else {
                args.add(option);
                args.add(value);
            }
        }
        check(args);
    }

    /** Durations too long for milliseconds: the rotation check threw ArithmeticException, a stack trace at start. */
    @Test
    void hugeRotationPeriodsAreRefusedWithTheirKey() {
        check(List.of("--worker-jar", WORKER_JAR.toString(), "--ticket-key-rotation", "PT9223372036854775807S"));
        check(List.of("--worker-jar", WORKER_JAR.toString(), "--ticket-lifetime", "PT9223372036854775807S"));
        check(List.of("--worker-jar", WORKER_JAR.toString(), "--ticket-key-rotation", "PT9223372036854775S",
                "--ticket-lifetime", "PT9223372036854775S"));
    }

    private static void check(List<String> args) {
        try {
            validate(args.toArray(String[]::new));
        } catch (CommandLine.ParameterException | IllegalArgumentException e) {
            assertThat(e.getMessage()).as("message for %s", args).isNotBlank()
                    .doesNotStartWith("For input string").doesNotContain("java.lang.");
        }
    }

    /** What {@code SupervisorMain.run} checks before it starts anything. */
    private static void validate(String[] args) {
        SupervisorMain options = new SupervisorMain();
        CommandLine cli = new CommandLine(options).setUnmatchedOptionsArePositionalParams(false);
        CommandLine.ParseResult parsed = cli.parseArgs(args);
        options.applyConfigFile(parsed);
        SupervisorConfig config = options.toConfig();
        assertThat(config.workers()).isBetween(1, SupervisorConfig.MAX_WORKERS);
        if (!options.noSharedTickets) {
            new Rotation(SupervisorMain.duration("ticket-key-rotation", options.ticketKeyRotation),
                    SupervisorMain.duration("ticket-lifetime", options.ticketLifetime));
        }
        SharedSecretsConfig.builder(1).directory(Path.of("/nonexistent")).replayCapacity(options.shmEntries).build();
        ConnectionIds.of(ConnectionIds.parseServerId(options.serverId));
    }

    private static Path workerJar() {
        try {
            Path jar = Files.createTempFile("quicfleet-fuzz-worker", ".jar");
            jar.toFile().deleteOnExit();
            return jar;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
