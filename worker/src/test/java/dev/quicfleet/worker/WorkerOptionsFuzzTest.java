package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Fuzzes the worker's command line ({@link WorkerMain#parse}: picocli, {@code ConfigValues}, the {@code WorkerConfig}
 * builder and record validation) with the value options and any values. Contract: a command line is either accepted
 * as a config, or refused with the exceptions {@code WorkerMain.run} turns into one "error: ..." line and exit code 2
 * ({@link CommandLine.ParameterException}, {@link IllegalArgumentException}) with a message an operator can act on —
 * never another exception (it would end the worker with a stack trace), never a bare "For input string". Options that
 * resolve host names or read files ({@code --address}, {@code --upstream}, {@code --config}, {@code --cert},
 * {@code --key}) are left out:
 * a fuzzer must not send DNS queries. See docs/FUZZING.md.
 */
class WorkerOptionsFuzzTest {

    private static final String[] OPTIONS = {
        "--port", "--transport", "--io-threads", "--slot", "--udp-fd", "--tcp-fd", "--drain-timeout",
        "--idle-timeout", "--body-timeout", "--early-data", "--server-id", "--retry", "--retry-threshold",
        "--stateless-reset", "--stateless-reset-holdoff", "--quic-max-streams", "--quic-max-data",
        "--quic-max-stream-data", "--quic-max-udp-payload", "--quic-pmtu-discovery", "--quic-gso-segments",
        "--udp-socket-buffer",
        "--static-prefix", "--reuse-port", "--upstream-balance", "--upstream-connect-timeout",
        "--upstream-response-timeout", "--upstream-idle-timeout", "--upstream-keepalive-timeout",
        "--upstream-max-idle", "--trusted-proxies", "--forwarded-header", "--via",
        "--upstream-max-5xx", "--upstream-health-path", "--upstream-health-interval", "--proxy-protocol-from",
    };

    @FuzzTest(maxDuration = "10s")
    void acceptsOrExplains(FuzzedDataProvider data) {
        List<String> args = new ArrayList<>();
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
        check(args.toArray(String[]::new));
    }

    /** What the fuzzer found, spelled out: a duration too long for milliseconds made the range message throw. */
    @Test
    void hugeDurationsAreRefusedWithTheirKey() {
        check("--drain-timeout", "PT9223372036854775807S");
        check("--idle-timeout=99999999999999999999s");
        check("--quic-max-data", "99999999999999999999k");
        check("--upstream", "http://127.0.0.1:8080", "--upstream-idle-timeout", "PT9223372036854775807S");
    }

    private static void check(String... args) {
        StringWriter out = new StringWriter();
        try {
            WorkerConfig config = WorkerMain.parse(args, new PrintWriter(out));
            assertThat(config != null || !out.toString().isEmpty()).as("a config, or help printed").isTrue();
        } catch (CommandLine.ParameterException | IllegalArgumentException e) {
            assertThat(e.getMessage()).as("message for %s", List.of(args)).isNotBlank()
                    .doesNotStartWith("For input string").doesNotContain("java.lang.");
        }
    }
}
