package dev.quicfleet.interop;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The QUIC interop runner's cases against a 2-worker cluster, with independent clients. By default (./scripts/test)
 * gtlsclient and Kwik run every case and none may FAIL (N/A only where the client cannot do the case, checked as far
 * as it goes). {@code scripts/interop} runs every client ({@code -Dquicfleet.interop.clients=all}) and writes the
 * matrix into docs/INTEROP.md ({@code -Dquicfleet.interop.report=PATH}); a FAIL of a client outside the fast subset
 * is reported in the matrix, not failed here, and explained in docs/INTEROP.md.
 */
class InteropIT {

    static final String FAST = "gtlsclient,kwik";

    @TempDir
    Path tmp;

    @Test
    void everyCaseWithEveryClient() throws Exception {
        List<Driver> drivers = drivers(System.getProperty("quicfleet.interop.clients", FAST));
        Map<Driver, Map<Case, Outcome>> matrix = new LinkedHashMap<>();
        long start = System.nanoTime();
        try (InteropCluster cluster = InteropCluster.start(tmp)) {
            for (Driver driver : drivers) {
                Map<Case, Outcome> column = new LinkedHashMap<>();
                String unavailable = driver.unavailable();
                for (Case c : Case.values()) {
                    Outcome outcome;
                    if (unavailable != null) {
                        outcome = Outcome.na(unavailable);
                    } else {
                        Path dir = Files.createDirectories(tmp.resolve(driver.name()).resolve(c.label));
                        long caseStart = System.nanoTime();
                        long kernelDropsBefore = kernelUdpReceiveDrops();
                        try {
                            outcome = driver.run(c, cluster, dir);
                        } catch (Exception | AssertionError e) {
                            outcome = Outcome.fail(e.getClass().getSimpleName() + ": " + e.getMessage());
                        }
                        long kernelDrops = kernelUdpReceiveDrops() - kernelDropsBefore;
                        if (kernelDrops > 0) {
                            // datagrams the kernel dropped for a full socket buffer (any socket of this machine)
                            // while the case ran: a lost datagram the client had to recover from
                            outcome = new Outcome(outcome.result(), outcome.detail()
                                    + "; the kernel dropped " + kernelDrops + " UDP datagram(s) meanwhile");
                        }
                        System.out.printf("interop: %-12s %-20s %-4s %5.1f s  %s%n", driver.name(), c.label,
                                outcome.cell(), (System.nanoTime() - caseStart) / 1e9, outcome.detail());
                    }
                    column.put(c, outcome);
                }
                matrix.put(driver, column);
            }
            // what the cluster logged besides its start-up, to explain a FAIL
            cluster.main().stderr().lines().filter(l -> l.contains(" WARN ") || l.contains(" ERROR "))
                    .forEach(l -> System.out.println("interop: cluster: " + l));
            cluster.main().scrape().lines().filter(l -> l.startsWith("quicfleet_quic_datagrams_dropped_total")
                    && !l.endsWith(" 0.0")).forEach(l -> System.out.println("interop: cluster: " + l));
        }
        Trixie.clean();
        String table = Matrix.render(matrix);
        System.out.println(table);
        System.out.printf("interop: %d clients in %.0f s%n", drivers.size(), (System.nanoTime() - start) / 1e9);
        String report = System.getProperty("quicfleet.interop.report", "");
        if (!report.isBlank()) {
            Matrix.writeInto(Path.of(report), table);
        }
        List<String> fastFailures = new ArrayList<>();
        matrix.forEach((driver, column) -> column.forEach((c, outcome) -> {
            if (FAST.contains(driver.key()) && outcome.result() == Outcome.Result.FAIL) {
                fastFailures.add(driver.name() + " " + c.label + ": " + outcome.cell() + " " + outcome.detail());
            }
        }));
        assertThat(fastFailures).as("gtlsclient and Kwik pass every case they support").isEmpty();
    }

    /** UDP receive-buffer drops of this machine so far ({@code /proc/net/snmp} RcvbufErrors), or 0 if unreadable. */
    static long kernelUdpReceiveDrops() {
        try {
            List<String> udp = Files.readAllLines(Path.of("/proc/net/snmp")).stream()
                    .filter(l -> l.startsWith("Udp: ")).toList();
            if (udp.size() < 2) {
                return 0;
            }
            List<String> names = List.of(udp.get(0).split("\\s+"));
            String[] values = udp.get(1).split("\\s+");
            int index = names.indexOf("RcvbufErrors");
            return index < 0 || index >= values.length ? 0 : Long.parseLong(values[index]);
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    static List<Driver> drivers(String names) {
        List<Driver> all = List.of(new GtlsclientDriver(), new KwikDriver(), new ChromiumDriver(), new CurlDriver(),
                new LibcurlDriver(), new AioquicDriver());
        if (names.equals("all")) {
            return all;
        }
        List<String> wanted = Arrays.asList(names.split(","));
        List<Driver> chosen = all.stream().filter(d -> wanted.contains(d.key())).toList();
        if (chosen.size() != wanted.size()) {
            throw new IllegalArgumentException("quicfleet.interop.clients=" + names
                    + ": expected \"all\" or some of " + all.stream().map(Driver::key).toList());
        }
        return chosen;
    }
}
