package dev.quicfleet.supervisor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The supervisor's own options, the pass-through of worker options, and the shared config file. */
class SupervisorMainTest {

    @TempDir
    Path tmp;

    private SupervisorConfig parse(String... args) throws Exception {
        Path jar = Files.writeString(tmp.resolve("worker.jar"), "not really a jar");
        SupervisorMain options = new SupervisorMain();
        CommandLine cli = new CommandLine(options);
        String[] all = java.util.stream.Stream.concat(java.util.Arrays.stream(args),
                java.util.stream.Stream.of("--worker-jar", jar.toString())).toArray(String[]::new);
        CommandLine.ParseResult parsed = cli.parseArgs(all);
        options.applyConfigFile(parsed);
        return options.toConfig();
    }

    @Test
    void defaultsToOneWorkerPerCoreOnPort4433() throws Exception {
        SupervisorConfig config = parse();
        assertThat(config.workers()).isEqualTo(Runtime.getRuntime().availableProcessors());
        assertThat(config.port()).isEqualTo(4433);
        assertThat(config.drainTimeout()).isEqualTo(Duration.ofSeconds(10));
        assertThat(config.workerArgs()).isEmpty();
    }

    @Test
    void unknownOptionsArePassedToTheWorkers() throws Exception {
        SupervisorConfig config = parse("--workers", "3", "--cert", "a.pem", "--key", "b.pem", "--transport", "epoll");
        assertThat(config.workers()).isEqualTo(3);
        assertThat(config.workerArgs()).containsExactly("--cert", "a.pem", "--key", "b.pem", "--transport", "epoll");
    }

    @Test
    void configFileSetsWhatTheSupervisorBindsUnlessAFlagDoes() throws Exception {
        Path file = Files.writeString(tmp.resolve("cluster.yaml"), "port: 8443\naddress: 127.0.0.1\n"
                + "drain-timeout: 30s\ncert: x.pem\n");
        SupervisorConfig fromFile = parse("--config", file.toString());
        assertThat(fromFile.port()).isEqualTo(8443);
        assertThat(fromFile.address().getHostAddress()).isEqualTo("127.0.0.1");
        assertThat(fromFile.drainTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(fromFile.workerArgs()).containsExactly("--config", file.toString());
        assertThat(parse("--config", file.toString(), "--port", "9443").port()).isEqualTo(9443);
    }

    @Test
    void badValuesNameTheOption() {
        assertThatThrownBy(() -> parse("--workers", "0")).hasMessage("workers: 0 (expected: 1..256)");
        assertThatThrownBy(() -> parse("--workers", "300")).hasMessage("workers: 300 (expected: 1..256)");
        assertThatThrownBy(() -> parse("--drain-timeout", "later"))
                .hasMessage("drain-timeout: later (expected: a duration such as 500ms, 30s, 5m, 1h or PT30S)");
        assertThatThrownBy(() -> parse("--worker-heap", "lots"))
                .hasMessage("worker-heap: lots (expected: a JVM heap size such as 512m or 2g)");
    }

    @Test
    void missingWorkerJarSaysHowToBuildIt() {
        SupervisorMain options = new SupervisorMain();
        new CommandLine(options).parseArgs("--worker-jar", tmp.resolve("missing.jar").toString());
        assertThatThrownBy(options::toConfig).hasMessageContaining("does not exist").hasMessageContaining("./mvnw");
    }

    @Test
    void runExitsTwoOnBadInput() {
        StringWriter err = new StringWriter();
        assertThat(SupervisorMain.run(new String[] {"--workers", "-1"}, new PrintWriter(new StringWriter()),
                new PrintWriter(err))).isEqualTo(2);
        assertThat(err.toString()).startsWith("error: ");
    }

    @Test
    void exitCodesAreNamed() {
        assertThat(Supervisor.reason(137)).isEqualTo("killed (SIGKILL)");
        assertThat(Supervisor.reason(3)).startsWith("oom");
        assertThat(Supervisor.reason(2)).startsWith("failed_start");
        assertThat(Supervisor.reason(1)).isEqualTo("crash (exit code 1)");
    }
}
