package dev.quicfleet.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Assertions on exposition text, written independently of the code under test: the structure rules a Prometheus
 * server relies on, and reading single samples.
 */
final class ExpositionChecks {

    private ExpositionChecks() {
    }

    /**
     * Asserts the family structure of an exposition: at most one HELP and exactly one TYPE per family, TYPE before
     * the family's samples, all samples of a family in one block right after it, each sample named as its family's
     * type allows, and for OpenMetrics exactly one {@code # EOF}, as the last line.
     *
     * @return the family names, in order
     */
    static List<String> assertWellFormed(String text, boolean openMetrics) {
        List<String> lines = List.of(text.split("\n", -1));
        assertThat(lines.getLast()).as("text ends with a newline").isEmpty();
        lines = lines.subList(0, lines.size() - 1);
        if (openMetrics) {
            assertThat(lines.getLast()).isEqualTo("# EOF");
            assertThat(lines.stream().filter(line -> line.equals("# EOF"))).hasSize(1);
            lines = lines.subList(0, lines.size() - 1);
        } else {
            assertThat(lines).doesNotContain("# EOF");
        }
        List<String> families = new ArrayList<>();
        Set<String> helped = new HashSet<>();
        Map<String, String> types = new HashMap<>();
        String family = null;
        for (String line : lines) {
            if (line.startsWith("# HELP ")) {
                String name = line.split(" ")[2];
                assertThat(helped.add(name)).as("one HELP for %s", name).isTrue();
                assertThat(!types.containsKey(name) || name.equals(family))
                        .as("HELP for %s inside its own block", name).isTrue();
            } else if (line.startsWith("# TYPE ")) {
                String[] words = line.split(" ");
                assertThat(types.put(words[2], words[3])).as("one TYPE for %s", words[2]).isNull();
                family = words[2];
                families.add(family);
            } else if (line.startsWith("#")) {
                assertThat(openMetrics && line.startsWith("# UNIT ")).as("unexpected comment: %s", line).isTrue();
            } else {
                assertThat(line).isNotBlank();
                if (family == null) {
                    fail("sample before any TYPE: " + line);
                }
                String sample = sampleName(line);
                assertThat(belongsTo(sample, family, types.get(family), openMetrics))
                        .as("sample %s in the block of %s %s", sample, types.get(family), family)
                        .isTrue();
            }
        }
        assertThat(helped).as("HELP only for families that have a TYPE").isSubsetOf(types.keySet());
        return families;
    }

    private static boolean belongsTo(String sample, String family, String type, boolean openMetrics) {
        List<String> suffixes = switch (type) {
            case "counter" -> openMetrics ? List.of("_total", "_created") : List.of("");
            case "histogram" -> openMetrics ? List.of("_bucket", "_count", "_sum", "_created")
                    : List.of("_bucket", "_count", "_sum");
            case "summary" -> openMetrics ? List.of("", "_count", "_sum", "_created") : List.of("", "_count", "_sum");
            case "info" -> List.of("_info");
            default -> List.of("");
        };
        if (!openMetrics && type.equals("counter") && !family.endsWith("_total")) {
            return false; // the writers always name counters ..._total in the text format
        }
        return suffixes.stream().anyMatch(suffix -> sample.equals(family + suffix));
    }

    private static String sampleName(String line) {
        int end = 0;
        while (end < line.length() && line.charAt(end) != '{' && line.charAt(end) != ' ') {
            end++;
        }
        return line.substring(0, end);
    }

    /**
     * The value of the sample whose name and labels are exactly {@code series} (labels as the writers order them),
     * e.g. {@code quicfleet_workers_running} or {@code quicfleet_scrape_errors_total{worker="1"}}.
     */
    static double value(String text, String series) {
        List<String> matches = text.lines().filter(line -> line.startsWith(series + " ")).toList();
        assertThat(matches).as("exactly one sample %s", series).hasSize(1);
        String rest = matches.getFirst().substring(series.length() + 1);
        return Double.parseDouble(rest.split(" ")[0].replace("+Inf", "Infinity"));
    }

    /** Sum of the values of every sample named exactly {@code name}, whatever its labels. */
    static double sum(String text, String name) {
        return text.lines()
                .filter(line -> line.startsWith(name + "{") || line.startsWith(name + " "))
                .mapToDouble(line -> Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1)))
                .sum();
    }

    /** The sample lines (not comments) of {@code text} named exactly {@code name}. */
    static List<String> samples(String text, String name) {
        return text.lines().filter(line -> line.startsWith(name + "{") || line.startsWith(name + " ")).toList();
    }
}
