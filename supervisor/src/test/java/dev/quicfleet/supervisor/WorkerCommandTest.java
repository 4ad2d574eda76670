package dev.quicfleet.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The worker command line: where a worker JVM's crash report goes. */
class WorkerCommandTest {

    @TempDir
    Path tmp;

    @Test
    void aWorkerCrashReportGoesToTheStateDirectoryWhichExistsBeforeTheWorkerStarts() throws Exception {
        Path state = tmp.resolve("state");
        WorkerCommand command = new WorkerCommand(config(List.of("--cert", "c.pem", "--state-dir", state.toString())));

        assertThat(command.command(0, 4433, false, 0)).contains("-XX:ErrorFile=" + state.resolve("hs_err_pid%p.log"))
                .doesNotContain("-XX:ErrorFile=hs_err_pid%p.log");
        assertThat(state).isDirectory();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(state))).isEqualTo("rwx------");
    }

    @Test
    void theStateDirectoryFlagMayBeGivenWithAnEqualsSignAndOperatorJvmOptionsComeLast() {
        Path state = tmp.resolve("other");
        WorkerCommand command = new WorkerCommand(new SupervisorConfig(1, InetAddress.getLoopbackAddress(), 4433,
                Duration.ofSeconds(10), null, List.of("-XX:ErrorFile=/var/crash/w%p.log"), false,
                tmp.resolve("worker.jar"), List.of(), List.of("--state-dir=" + state), tmp.resolve("c.sock"), Duration.ofMillis(100),
                Duration.ofSeconds(10)));

        List<String> line = command.command(0, 4433, false, 0);
        assertThat(line).contains("-XX:ErrorFile=" + state.resolve("hs_err_pid%p.log"));
        assertThat(line.indexOf("-XX:ErrorFile=/var/crash/w%p.log"))
                .as("the operator's own -XX:ErrorFile wins (the JVM takes the last one)")
                .isGreaterThan(line.indexOf("-XX:ErrorFile=" + state.resolve("hs_err_pid%p.log")));
    }

    private SupervisorConfig config(List<String> workerArgs) {
        return new SupervisorConfig(1, InetAddress.getLoopbackAddress(), 4433, Duration.ofSeconds(10), null, List.of(),
                false, tmp.resolve("worker.jar"), List.of(), workerArgs, tmp.resolve("c.sock"), Duration.ofMillis(100),
                Duration.ofSeconds(10));
    }
}
