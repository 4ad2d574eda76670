package dev.quicfleet.metrics;

import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.CounterSnapshot.CounterDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.Exemplars;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot.GaugeDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot.HistogramDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.InfoSnapshot;
import io.prometheus.metrics.model.snapshots.InfoSnapshot.InfoDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricMetadata;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.Quantile;
import io.prometheus.metrics.model.snapshots.Quantiles;
import io.prometheus.metrics.model.snapshots.SummarySnapshot;
import io.prometheus.metrics.model.snapshots.SummarySnapshot.SummaryDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.UnknownSnapshot;
import io.prometheus.metrics.model.snapshots.UnknownSnapshot.UnknownDataPointSnapshot;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Reads a Prometheus text format 0.0.4 exposition (what a worker's {@link WorkerMetrics#scrape(String)} writes)
 * back into prometheus-metrics snapshots, so the supervisor can merge families and let the library's writers render
 * the result. prometheus-metrics 1.x writes these formats but has no parser, hence this small line-oriented one.
 *
 * <p>It never throws on bad input: a line it cannot read, a family the snapshot model rejects (a negative counter, a
 * histogram without a {@code +Inf} bucket, a reserved name such as an untyped {@code foo_total}) or a repeated series
 * is skipped and counted in {@link Result#problems()}; everything else is kept.
 *
 * <p>Limits, by design:
 * <ul>
 *   <li>Prometheus text 0.0.4 only. OpenMetrics syntax is not understood: {@code # UNIT} and {@code # EOF} are
 *       ignored as comments, a sample with an exemplar is unreadable, and OpenMetrics' {@code foo_total} samples of a
 *       {@code # TYPE foo counter} family are rejected. The supervisor asks workers for 0.0.4
 *       ({@link WorkerScrapeFetcher#ACCEPT}).</li>
 *   <li>Sample timestamps are read and dropped: the merged scrape is one point in time.</li>
 *   <li>A histogram's {@code _count} is not kept; the model derives it from the {@code +Inf} bucket (they are equal in
 *       a valid histogram). A histogram with {@code _count} but no buckets gets a single {@code +Inf} bucket.</li>
 *   <li>0.0.4 cannot tell a gauge histogram from a histogram; one comes back as a histogram.</li>
 *   <li>{@code foo_created} gauge families (prometheus-metrics writes them with created timestamps enabled) are folded
 *       back into the counter, histogram or summary {@code foo} as created timestamps.</li>
 *   <li>A gauge named {@code foo_info} whose samples are all 1 becomes an info metric, as Micrometer and
 *       prometheus-metrics write one. A counter typed without the {@code _total} suffix gets it on output.</li>
 * </ul>
 */
final class PrometheusTextParser {

    /**
     * What one exposition contained.
     *
     * @param snapshots    every family that could be read
     * @param problems     how many lines, series and families were skipped
     * @param firstProblem a description of the first one, or {@code null} if there was none
     */
    record Result(List<MetricSnapshot> snapshots, int problems, String firstProblem) {
    }

    private enum Type { COUNTER, GAUGE, HISTOGRAM, SUMMARY, UNTYPED }

    private static final Pattern METRIC_NAME = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
    private static final Pattern NUMBER = Pattern.compile("[+-]?(\\d+(\\.\\d*)?|\\.\\d+)([eE][+-]?\\d+)?");
    private static final Pattern TIMESTAMP = Pattern.compile("-?\\d+");

    private final Labels override;
    private final Map<String, Family> families = new LinkedHashMap<>();
    private int problems;
    private String firstProblem;

    private PrometheusTextParser(Labels override) {
        this.override = override;
    }

    /**
     * Parses {@code text}.
     *
     * @param text     a Prometheus text format 0.0.4 exposition
     * @param override labels set on every series, replacing a label of the same name (the supervisor sets
     *                 {@code worker} to the slot it fetched from, whatever the text says)
     */
    static Result parse(String text, Labels override) {
        PrometheusTextParser parser = new PrometheusTextParser(override);
        int lineNumber = 0;
        int start = 0;
        while (start < text.length()) {
            int end = text.indexOf('\n', start);
            if (end < 0) {
                end = text.length();
            }
            lineNumber++;
            parser.line(text.substring(start, end), lineNumber);
            start = end + 1;
        }
        List<MetricSnapshot> snapshots = parser.snapshots();
        return new Result(List.copyOf(snapshots), parser.problems, parser.firstProblem);
    }

    private void problem(String description) {
        if (problems++ == 0) {
            firstProblem = description;
        }
    }

    // Reading lines.

    private void line(String raw, int lineNumber) {
        String line = raw.strip();
        if (line.isEmpty()) {
            return;
        }
        try {
            if (line.charAt(0) == '#') {
                comment(line);
            } else {
                sample(line);
            }
        } catch (MalformedException e) {
            problem("line " + lineNumber + ": " + e.getMessage() + ": " + abbreviate(raw));
        }
    }

    private static String abbreviate(String line) {
        return line.length() <= 120 ? line : line.substring(0, 120) + "...";
    }

    private void comment(String line) throws MalformedException {
        String[] words = line.substring(1).strip().split("[ \t]+", 3);
        boolean help = words[0].equals("HELP");
        if (!help && !words[0].equals("TYPE")) {
            return; // a comment, or OpenMetrics' # UNIT / # EOF
        }
        if (words.length < 2 || !METRIC_NAME.matcher(words[1]).matches()) {
            throw new MalformedException(words[0] + " without a valid metric name");
        }
        Family family = families.computeIfAbsent(words[1], Family::new);
        if (help) {
            if (family.help != null) {
                throw new MalformedException("second HELP for " + words[1]);
            }
            family.help = words.length > 2 ? unescapeHelp(words[2]) : "";
            return;
        }
        if (words.length < 3) {
            throw new MalformedException("TYPE without a type");
        }
        Type type;
        try {
            type = Type.valueOf(words[2].strip().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new MalformedException("unknown type '" + words[2] + "'");
        }
        if (family.type != null || !family.samples.isEmpty()) {
            throw new MalformedException("TYPE for " + words[1] + " after its " + (family.type != null ? "TYPE" : "samples"));
        }
        family.type = type;
    }

    private static String unescapeHelp(String help) {
        StringBuilder out = new StringBuilder(help.length());
        for (int i = 0; i < help.length(); i++) {
            char c = help.charAt(i);
            if (c == '\\' && i + 1 < help.length() && (help.charAt(i + 1) == '\\' || help.charAt(i + 1) == 'n')) {
                out.append(help.charAt(++i) == 'n' ? '\n' : '\\');
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    private void sample(String line) throws MalformedException {
        Cursor cursor = new Cursor(line);
        String name = cursor.metricName();
        List<String> labelNames = new ArrayList<>();
        List<String> labelValues = new ArrayList<>();
        cursor.skipBlanks();
        if (cursor.peek() == '{') {
            cursor.labels(labelNames, labelValues);
        }
        cursor.skipBlanks();
        double value = parseValue(cursor.word());
        cursor.skipBlanks();
        if (!cursor.atEnd()) {
            String timestamp = cursor.word(); // read to check it, then dropped: the merged scrape is "now"
            if (!TIMESTAMP.matcher(timestamp).matches()) {
                throw new MalformedException("bad timestamp '" + timestamp + "'");
            }
            cursor.skipBlanks();
            if (!cursor.atEnd()) {
                throw new MalformedException("text after the timestamp");
            }
        }
        familyOf(name).samples.add(new Sample(name, labelNames, labelValues, value));
    }

    private static double parseValue(String word) throws MalformedException {
        switch (word.toLowerCase(Locale.ROOT)) {
            case "nan":
                return Double.NaN;
            case "inf", "+inf":
                return Double.POSITIVE_INFINITY;
            case "-inf":
                return Double.NEGATIVE_INFINITY;
            default:
                if (!NUMBER.matcher(word).matches()) {
                    throw new MalformedException("bad value '" + word + "'");
                }
                return Double.parseDouble(word);
        }
    }

    /** The family a sample belongs to: declared under its name, or under its name minus a suffix its type allows. */
    private Family familyOf(String sampleName) throws MalformedException {
        Family exact = families.get(sampleName);
        if (exact != null) {
            if (exact.type == Type.HISTOGRAM) {
                throw new MalformedException("sample " + sampleName + " of histogram " + sampleName
                                             + " (expected: _bucket, _count or _sum)");
            }
            return exact;
        }
        for (String suffix : new String[] {"_bucket", "_count", "_sum"}) {
            if (sampleName.endsWith(suffix)) {
                Family base = families.get(sampleName.substring(0, sampleName.length() - suffix.length()));
                if (base != null && (base.type == Type.HISTOGRAM || base.type == Type.SUMMARY && !suffix.equals("_bucket"))) {
                    return base;
                }
            }
        }
        Family untyped = new Family(sampleName);
        families.put(sampleName, untyped);
        return untyped;
    }

    // Building snapshots.

    private List<MetricSnapshot> snapshots() {
        Map<String, Map<Labels, Long>> created = createdTimestamps();
        List<MetricSnapshot> snapshots = new ArrayList<>(families.size());
        for (Family family : families.values()) {
            if (family.samples.isEmpty()) {
                continue;
            }
            if (family.type() == Type.GAUGE && family.name.endsWith("_created")
                && created.containsKey(family.name.substring(0, family.name.length() - "_created".length()))) {
                continue; // folded into its counter, histogram or summary
            }
            try {
                snapshots.add(switch (family.type()) {
                    case COUNTER -> counter(family, created);
                    case GAUGE -> gauge(family);
                    case HISTOGRAM -> histogram(family, created);
                    case SUMMARY -> summary(family, created);
                    case UNTYPED -> untyped(family);
                });
            } catch (IllegalArgumentException e) {
                problem("family " + family.name + " skipped: " + e.getMessage());
            }
        }
        return snapshots;
    }

    /**
     * Created timestamps from {@code <base>_created} gauge families, by base (a counter's name without
     * {@code _total}, a histogram's or summary's name) and labels. A base is a key exactly when such a gauge family
     * exists for it, which is how {@link #snapshots()} knows the gauge family was folded in.
     */
    private Map<String, Map<Labels, Long>> createdTimestamps() {
        Map<String, Map<Labels, Long>> created = new HashMap<>();
        for (Family family : families.values()) {
            String base = switch (family.type()) {
                case COUNTER -> stripSuffix(family.name, "_total");
                case HISTOGRAM, SUMMARY -> family.name;
                default -> null;
            };
            if (base == null) {
                continue;
            }
            Family createdFamily = families.get(base + "_created");
            if (createdFamily == null || createdFamily.type() != Type.GAUGE) {
                continue;
            }
            Map<Labels, Long> byLabels = new HashMap<>();
            for (Sample sample : createdFamily.samples) {
                try {
                    if (sample.value >= 0 && sample.value < Long.MAX_VALUE / 1000.0) {
                        byLabels.put(labels(sample, null), Math.round(sample.value * 1000));
                    } else {
                        problem("created timestamp " + sample.value + " of " + base + " skipped");
                    }
                } catch (IllegalArgumentException e) {
                    problem("created timestamp of " + base + " skipped: " + e.getMessage());
                }
            }
            created.put(base, byLabels);
        }
        return created;
    }

    private static String stripSuffix(String name, String suffix) {
        return name.endsWith(suffix) ? name.substring(0, name.length() - suffix.length()) : name;
    }

    private static long created(Map<String, Map<Labels, Long>> created, String base, Labels labels) {
        return created.getOrDefault(base, Map.of()).getOrDefault(labels, 0L);
    }

    /** The sample's labels without {@code skip}, with {@link #override} applied. */
    private Labels labels(Sample sample, String skip) {
        List<String> names = new ArrayList<>(sample.labelNames.size() + override.size());
        List<String> values = new ArrayList<>(names.size());
        for (int i = 0; i < sample.labelNames.size(); i++) {
            String name = sample.labelNames.get(i);
            if (!name.equals(skip) && !override.contains(name)) {
                names.add(name);
                values.add(sample.labelValues.get(i));
            }
        }
        for (int i = 0; i < override.size(); i++) {
            names.add(override.getName(i));
            values.add(override.getValue(i));
        }
        return Labels.of(names, values);
    }

    /** Whether this is the first series with {@code labels} in its family; counts a repeat as a problem. */
    private boolean firstSeries(Set<Labels> seen, Family family, Labels labels) {
        if (seen.add(labels)) {
            return true;
        }
        problem("repeated series " + family.name + labels + " skipped");
        return false;
    }

    private MetricSnapshot counter(Family family, Map<String, Map<Labels, Long>> created) {
        String base = stripSuffix(family.name, "_total");
        List<CounterDataPointSnapshot> points = new ArrayList<>();
        Set<Labels> seen = new HashSet<>();
        for (Sample sample : family.samples) {
            Labels labels = labels(sample, null);
            if (firstSeries(seen, family, labels)) {
                points.add(new CounterDataPointSnapshot(sample.value, labels, null, created(created, base, labels)));
            }
        }
        return new CounterSnapshot(new MetricMetadata(base, family.help), points);
    }

    private MetricSnapshot gauge(Family family) {
        Set<Labels> seen = new HashSet<>();
        if (family.name.endsWith("_info") && family.samples.stream().allMatch(sample -> sample.value == 1)) {
            List<InfoDataPointSnapshot> points = new ArrayList<>();
            for (Sample sample : family.samples) {
                Labels labels = labels(sample, null);
                if (firstSeries(seen, family, labels)) {
                    points.add(new InfoDataPointSnapshot(labels));
                }
            }
            return new InfoSnapshot(new MetricMetadata(stripSuffix(family.name, "_info"), family.help), points);
        }
        List<GaugeDataPointSnapshot> points = new ArrayList<>();
        for (Sample sample : family.samples) {
            Labels labels = labels(sample, null);
            if (firstSeries(seen, family, labels)) {
                points.add(new GaugeDataPointSnapshot(sample.value, labels, null));
            }
        }
        return new GaugeSnapshot(new MetricMetadata(family.name, family.help), points);
    }

    private MetricSnapshot untyped(Family family) {
        List<UnknownDataPointSnapshot> points = new ArrayList<>();
        Set<Labels> seen = new HashSet<>();
        for (Sample sample : family.samples) {
            Labels labels = labels(sample, null);
            if (firstSeries(seen, family, labels)) {
                points.add(new UnknownDataPointSnapshot(sample.value, labels, null));
            }
        }
        return new UnknownSnapshot(new MetricMetadata(family.name, family.help), points);
    }

    /** The buckets, count and sum of one histogram or summary series. */
    private static final class Distribution {
        final TreeMap<Double, Double> bounds = new TreeMap<>(); // le or quantile -> value
        double count = Double.NaN;
        double sum = Double.NaN;
    }

    private Map<Labels, Distribution> distributions(Family family, String boundLabel, String boundSampleName) {
        Map<Labels, Distribution> series = new LinkedHashMap<>();
        for (Sample sample : family.samples) {
            boolean bound = sample.name.equals(boundSampleName);
            Distribution distribution = series.computeIfAbsent(labels(sample, bound ? boundLabel : null),
                                                               labels -> new Distribution());
            if (bound) {
                int i = sample.labelNames.indexOf(boundLabel);
                if (i < 0) {
                    throw new IllegalArgumentException(sample.name + " without a " + boundLabel + " label");
                }
                String boundValue = sample.labelValues.get(i);
                double key;
                try {
                    key = parseValue(boundValue);
                } catch (MalformedException e) {
                    throw new IllegalArgumentException(boundLabel + "=\"" + boundValue + "\": not a number");
                }
                if (distribution.bounds.put(key, sample.value) != null) {
                    throw new IllegalArgumentException("repeated " + boundLabel + "=\"" + boundValue + "\"");
                }
            } else if (sample.name.endsWith("_count")) {
                distribution.count = sample.value;
            } else {
                distribution.sum = sample.value;
            }
        }
        return series;
    }

    private static long count(double value) {
        if (!(value >= 0 && value <= Long.MAX_VALUE && value == Math.rint(value))) {
            throw new IllegalArgumentException(value + ": not a count");
        }
        return (long) value;
    }

    private MetricSnapshot histogram(Family family, Map<String, Map<Labels, Long>> created) {
        List<HistogramDataPointSnapshot> points = new ArrayList<>();
        for (Map.Entry<Labels, Distribution> series : distributions(family, "le", family.name + "_bucket").entrySet()) {
            Distribution distribution = series.getValue();
            ClassicHistogramBuckets buckets;
            if (distribution.bounds.isEmpty() && !Double.isNaN(distribution.count)) {
                buckets = ClassicHistogramBuckets.of(new double[] {Double.POSITIVE_INFINITY},
                                                     new long[] {count(distribution.count)});
            } else {
                double[] upperBounds = new double[distribution.bounds.size()];
                long[] counts = new long[upperBounds.length];
                long previous = 0;
                int i = 0;
                for (Map.Entry<Double, Double> bucket : distribution.bounds.entrySet()) {
                    long cumulative = count(bucket.getValue());
                    if (cumulative < previous) {
                        throw new IllegalArgumentException("bucket le=\"" + bucket.getKey() + "\" counts less than "
                                                           + "the one below it");
                    }
                    upperBounds[i] = bucket.getKey();
                    counts[i++] = cumulative - previous; // the model's buckets are not cumulative
                    previous = cumulative;
                }
                buckets = ClassicHistogramBuckets.of(upperBounds, counts);
            }
            points.add(new HistogramDataPointSnapshot(buckets, distribution.sum, series.getKey(), Exemplars.EMPTY,
                                                      created(created, family.name, series.getKey())));
        }
        return new HistogramSnapshot(new MetricMetadata(family.name, family.help), points);
    }

    private MetricSnapshot summary(Family family, Map<String, Map<Labels, Long>> created) {
        List<SummaryDataPointSnapshot> points = new ArrayList<>();
        for (Map.Entry<Labels, Distribution> series : distributions(family, "quantile", family.name).entrySet()) {
            Distribution distribution = series.getValue();
            List<Quantile> quantiles = new ArrayList<>();
            distribution.bounds.forEach((quantile, value) -> quantiles.add(new Quantile(quantile, value)));
            long count = Double.isNaN(distribution.count) ? -1 : count(distribution.count);
            points.add(new SummaryDataPointSnapshot(count, distribution.sum, Quantiles.of(quantiles), series.getKey(),
                                                    Exemplars.EMPTY, created(created, family.name, series.getKey())));
        }
        return new SummarySnapshot(new MetricMetadata(family.name, family.help), points);
    }

    // Data.

    /** A metric family as declared by HELP and TYPE lines, or implied by an undeclared sample name. */
    private static final class Family {
        final String name;
        final List<Sample> samples = new ArrayList<>();
        Type type;
        String help;

        Family(String name) {
            this.name = name;
        }

        Type type() {
            return type == null ? Type.UNTYPED : type;
        }
    }

    /** One sample line: its name (with any suffix), labels as written, and value. */
    private record Sample(String name, List<String> labelNames, List<String> labelValues, double value) {
    }

    /** A line that does not follow the format; the message says where. */
    private static final class MalformedException extends Exception {
        MalformedException(String message) {
            super(message, null, false, false);
        }
    }

    /** Reads one sample line left to right. */
    private static final class Cursor {
        private final String line;
        private int position;

        Cursor(String line) {
            this.line = line;
        }

        boolean atEnd() {
            return position >= line.length();
        }

        char peek() {
            return atEnd() ? '\0' : line.charAt(position);
        }

        void skipBlanks() {
            while (!atEnd() && (peek() == ' ' || peek() == '\t')) {
                position++;
            }
        }

        /** Up to the next blank or the end of the line. */
        String word() throws MalformedException {
            int start = position;
            while (!atEnd() && peek() != ' ' && peek() != '\t') {
                position++;
            }
            if (start == position) {
                throw new MalformedException("value missing");
            }
            return line.substring(start, position);
        }

        String metricName() throws MalformedException {
            int start = position;
            while (!atEnd() && (Character.isLetterOrDigit(peek()) || peek() == '_' || peek() == ':')) {
                position++;
            }
            String name = line.substring(start, position);
            if (!METRIC_NAME.matcher(name).matches()) {
                throw new MalformedException("bad metric name '" + name + "'");
            }
            return name;
        }

        /** Reads {@code {name="value",...}}, an optional trailing comma included. */
        void labels(List<String> names, List<String> values) throws MalformedException {
            position++; // '{'
            while (true) {
                skipBlanks();
                if (peek() == '}') {
                    position++;
                    return;
                }
                int start = position;
                while (!atEnd() && (isAsciiLetter(peek()) || peek() == '_' || position > start && isAsciiDigit(peek()))) {
                    position++;
                }
                if (start == position) {
                    throw new MalformedException("bad label name at column " + (position + 1));
                }
                names.add(line.substring(start, position));
                skipBlanks();
                expect('=');
                skipBlanks();
                expect('"');
                values.add(labelValue());
                skipBlanks();
                if (peek() == ',') {
                    position++;
                } else if (peek() != '}') {
                    throw new MalformedException("expected ',' or '}' at column " + (position + 1));
                }
            }
        }

        private String labelValue() throws MalformedException {
            StringBuilder value = new StringBuilder();
            while (true) {
                if (atEnd()) {
                    throw new MalformedException("unterminated label value");
                }
                char c = line.charAt(position++);
                if (c == '"') {
                    return value.toString();
                }
                if (c == '\\') {
                    char escaped = peek();
                    position++;
                    switch (escaped) {
                        case '\\', '"' -> value.append(escaped);
                        case 'n' -> value.append('\n');
                        default -> throw new MalformedException("bad escape in label value at column " + position);
                    }
                } else {
                    value.append(c);
                }
            }
        }

        private void expect(char c) throws MalformedException {
            if (peek() != c) {
                throw new MalformedException("expected '" + c + "' at column " + (position + 1));
            }
            position++;
        }

        private static boolean isAsciiLetter(char c) {
            return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z';
        }

        private static boolean isAsciiDigit(char c) {
            return c >= '0' && c <= '9';
        }
    }
}
