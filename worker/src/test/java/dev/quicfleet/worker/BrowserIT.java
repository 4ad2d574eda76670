package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** A real browser: headless Chromium loads the demo page over HTTP/3 and reports the protocol it used. */
class BrowserIT {

    private static final Pattern SPKI = Pattern.compile("--ignore-certificate-errors-spki-list=(\\S+)\\)");

    @RegisterExtension
    static RunningWorker worker = new RunningWorker();
    static String spki;

    @BeforeAll
    static void readPin() throws Exception {
        // The worker prints the pin Chromium needs for the generated development certificate.
        String line = worker.process().awaitStderr(l -> l.contains("--ignore-certificate-errors-spki-list="),
                Duration.ofSeconds(10));
        assertThat(line).as("stderr: %s", worker.process().stderr()).isNotNull();
        Matcher m = SPKI.matcher(line);
        assertThat(m.find()).isTrue();
        spki = m.group(1);
    }

    @Test
    void demoPageLoadsOverHttp3InChromium() throws Exception {
        Peers.Run run = Peers.chromiumDumpDom(worker.port(), spki, "/", Duration.ofSeconds(90));
        String dom = run.stdoutText();
        assertThat(dom).as("chromium stderr: %s", run.stderrText())
                // what the server saw
                .contains("<td id=\"protocol\">h3</td>")
                // what the browser itself reports for the navigation
                .contains("<td id=\"next-hop\">h3</td>");
    }
}
