package dev.quicfleet.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.sun.net.httpserver.HttpServer;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator's files under {@code packaging/}: the Grafana dashboard and the Prometheus alerting rules. Every
 * series they name, with every label and label value they match on, must be in a real scrape of a running 2-worker
 * cluster; the rules pass {@code promtool check rules} and their unit tests ({@code promtool test rules}), whose input
 * series are checked against the same scrape so they cannot drift from what the cluster exports; and every dashboard
 * query is evaluated by a real Prometheus server scraping that cluster.
 */
class DashboardAlertsIT {

    private static final Path PROMTOOL = Path.of("/usr/bin/promtool");
    /** Labels Prometheus adds to every scraped series; the cluster never exports them. */
    private static final Set<String> TARGET_LABELS = Set.of("instance", "job");
    /** A metric selector with its label matchers (string literals inside the braces are kept whole). */
    private static final Pattern SELECTOR = Pattern.compile(
            "(?<![\\w.:$])([a-zA-Z_:][a-zA-Z0-9_:]*)\\s*\\{((?:[^}\"]|\"(?:[^\"\\\\]|\\\\.)*\")*)}");
    private static final Pattern MATCHER = Pattern.compile("(\\w+)\\s*(=~|!~|!=|=)\\s*\"((?:[^\"\\\\]|\\\\.)*)\"");
    private static final Pattern IDENTIFIER = Pattern.compile("(?<![\\w.:$])[a-zA-Z_:][a-zA-Z0-9_:]*");
    private static final Set<String> PROMQL_WORDS = Set.of("and", "or", "unless", "offset", "bool", "by", "without",
            "on", "ignoring", "group_left", "group_right");
    private static final Pattern SERIES_LINE = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\\{(.*)})? \\S+");
    private static final Pattern LABEL = Pattern.compile("(\\w+)=\"((?:[^\"\\\\]|\\\\.)*)\"");

    @TempDir
    Path tmp;

    @Test
    void promtoolAcceptsTheRulesAndTheirUnitTestsPass() throws Exception {
        Path dir = SupervisorProcess.root().resolve("packaging/prometheus");
        assertThat(promtool(dir, "check", "rules", "alerts.yml")).contains("SUCCESS: 6 rules found");
        assertThat(promtool(dir, "test", "rules", "alerts.test.yml")).contains("SUCCESS");
        // Each alert the issue asks for fires in at least one unit test.
        JsonNode tests = yaml(dir.resolve("alerts.test.yml")).path("tests");
        Set<String> firing = new TreeSet<>();
        for (JsonNode test : tests) {
            for (JsonNode check : test.path("alert_rule_test")) {
                if (!check.path("exp_alerts").isEmpty()) {
                    firing.add(check.path("alertname").asText());
                }
            }
        }
        Set<String> alerts = new TreeSet<>();
        yaml(dir.resolve("alerts.yml")).path("groups").forEach(g -> g.path("rules")
                .forEach(r -> alerts.add(r.path("alert").asText())));
        assertThat(firing).isEqualTo(alerts);
    }

    @Test
    void everySeriesTheDashboardAndTheAlertsUseIsInARealScrapeAndEveryPanelQueryRuns() throws Exception {
        Path root = SupervisorProcess.root();
        List<String> alertExprs = new ArrayList<>();
        yaml(root.resolve("packaging/prometheus/alerts.yml")).path("groups").forEach(g -> g.path("rules")
                .forEach(r -> alertExprs.add(r.path("expr").asText())));
        JsonNode dashboard = new ObjectMapper().readTree(root.resolve("packaging/grafana/quicfleet.json").toFile());
        List<String> panelExprs = new ArrayList<>();
        collectExprs(dashboard.path("panels"), panelExprs);
        assertThat(panelExprs).hasSizeGreaterThan(30);
        dashboardIsWiredToTheProvisionedDatasource(root, dashboard);

        // The cluster proxies to an upstream, so the reverse proxy's series are there too: the JDK's own HTTP/1.1
        // server on loopback, answering every path (the requests below ask for /healthz) with 200.
        HttpServer upstream = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
        upstream.createContext("/", exchange -> {
            byte[] body = "ok\n".getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        upstream.start();
        try (SupervisorProcess supervisor = SupervisorProcess.start(tmp, "--workers", "2",
                "--metrics-address", "127.0.0.1:0",
                "--upstream", "http://127.0.0.1:" + upstream.getAddress().getPort())) {
            URI metrics = supervisor.metricsUri();
            sendRequests(supervisor.port(), 10);
            Map<String, List<Map<String, String>>> scrape = series(supervisor.scrape());
            assertThat(scrape).containsKeys("quicfleet_http_requests_total", "quicfleet_worker_restarts_total");

            Set<String> used = new TreeSet<>();
            for (String expr : alertExprs) {
                used.addAll(checkAgainstScrape(expr, scrape, Set.of("up")));
            }
            for (String expr : panelExprs) {
                used.addAll(checkAgainstScrape(expr, scrape, Set.of()));
            }
            for (JsonNode variable : dashboard.path("templating").path("list")) {
                String query = variable.path("definition").asText();
                if (!query.isEmpty()) {
                    Matcher m = Pattern.compile("label_values\\((.*),\\s*(\\w+)\\)").matcher(query);
                    assertThat(m.matches()).as(query).isTrue();
                    used.addAll(checkAgainstScrape(m.group(1), scrape, Set.of()));
                }
            }
            // The extraction itself works: the families the issue names are all among those found.
            assertThat(used).contains("quicfleet_http_requests_total", "quicfleet_http_request_duration_seconds_bucket",
                    "quicfleet_quic_handshakes_total", "quicfleet_quic_retry_sent_total",
                    "quicfleet_quic_early_data_requests_total", "quicfleet_quic_packets_misrouted_total",
                    "quicfleet_quic_stateless_resets_total", "quicfleet_worker_restarts_total",
                    "quicfleet_tls_ticket_key_age_seconds", "quicfleet_scrape_errors_total", "up",
                    "quicfleet_upstream_requests_total", "quicfleet_upstream_request_duration_seconds_bucket",
                    "quicfleet_upstream_failures_total", "quicfleet_upstream_healthy");

            // The unit tests' input series: names, label names and values as the cluster exports them.
            JsonNode tests = yaml(root.resolve("packaging/prometheus/alerts.test.yml")).path("tests");
            int inputs = 0;
            for (JsonNode test : tests) {
                for (JsonNode input : test.path("input_series")) {
                    checkInputSeries(input.path("series").asText(), scrape);
                    inputs++;
                }
            }
            assertThat(inputs).isGreaterThan(10);

            everyPanelQueryRunsOnARealPrometheus(metrics, supervisor.port(), panelExprs);
        } finally {
            upstream.stop(0);
        }
    }

    // ---- the checks ----

    /**
     * Every metric {@code expr} selects must be in the scrape (or in {@code synthetic}: series Prometheus makes
     * itself); every label it matches on must be a label of that metric, and every literal value it compares with
     * (=, !=) one the cluster exports. Returns the metric names found.
     */
    private static Set<String> checkAgainstScrape(String expr, Map<String, List<Map<String, String>>> scrape,
                                                  Set<String> synthetic) {
        Set<String> names = new LinkedHashSet<>();
        Matcher selector = SELECTOR.matcher(expr);
        while (selector.find()) {
            String name = selector.group(1);
            names.add(name);
            if (synthetic.contains(name)) {
                continue;
            }
            assertThat(scrape).as("%s (in %s) is not in the cluster's scrape", name, expr).containsKey(name);
            Matcher matcher = MATCHER.matcher(selector.group(2));
            while (matcher.find()) {
                String label = matcher.group(1);
                if (TARGET_LABELS.contains(label)) {
                    continue;
                }
                List<String> values = scrape.get(name).stream().filter(l -> l.containsKey(label))
                        .map(l -> l.get(label)).toList();
                assertThat(values).as("label %s of %s (in %s) is not in the scrape", label, name, expr).isNotEmpty();
                String op = matcher.group(2);
                if ((op.equals("=") || op.equals("!=")) && !matcher.group(3).contains("$")) {
                    assertThat(values).as("%s=\"%s\" (in %s) is not in the scrape", label, matcher.group(3), expr)
                            .contains(matcher.group(3));
                }
            }
        }
        // Bare names (no braces), outside strings, ranges, grouping lists and function calls.
        String bare = SELECTOR.matcher(expr).replaceAll(" ")
                .replaceAll("\"(?:[^\"\\\\]|\\\\.)*\"", " ")
                .replaceAll("\\[[^]]*]", " ")
                .replaceAll("\\b(by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)", " ")
                .replaceAll("[a-zA-Z_]\\w*\\s*\\(", "(");
        Matcher word = IDENTIFIER.matcher(bare);
        while (word.find()) {
            String name = word.group();
            if (PROMQL_WORDS.contains(name)) {
                continue;
            }
            names.add(name);
            if (!synthetic.contains(name)) {
                assertThat(scrape).as("%s (in %s) is not in the cluster's scrape", name, expr).containsKey(name);
            }
        }
        assertThat(names).as("no metric found in %s", expr).isNotEmpty();
        return names;
    }

    /** A unit-test input series: its name and label set (but for instance and job) as some scrape series has it. */
    private static void checkInputSeries(String series, Map<String, List<Map<String, String>>> scrape) {
        Matcher m = SERIES_LINE.matcher(series + " 0");
        assertThat(m.matches()).as(series).isTrue();
        Map<String, String> labels = labels(m.group(2));
        assertThat(labels).as(series).containsKeys("instance", "job");
        if (m.group(1).equals("up")) {
            return; // Prometheus' own series for each target
        }
        labels.keySet().removeAll(TARGET_LABELS);
        assertThat(scrape).as("input series %s is not in the scrape", series).containsKey(m.group(1));
        // transport depends on the machine (io_uring, epoll, nio); every other value must be exported as is.
        boolean found = scrape.get(m.group(1)).stream().anyMatch(l -> l.keySet().equals(labels.keySet())
                && labels.entrySet().stream().allMatch(e -> e.getKey().equals("transport")
                        || e.getValue().equals(l.get(e.getKey()))));
        assertThat(found).as("no series in the scrape has the labels of %s; it has: %s", series,
                scrape.get(m.group(1))).isTrue();
    }

    private static void dashboardIsWiredToTheProvisionedDatasource(Path root, JsonNode dashboard) throws Exception {
        JsonNode datasource = yaml(root.resolve("packaging/grafana/provisioning/datasources/quicfleet.yml"))
                .path("datasources").get(0);
        assertThat(datasource.path("type").asText()).isEqualTo("prometheus");
        JsonNode variable = dashboard.path("templating").path("list").get(0);
        assertThat(variable.path("type").asText()).isEqualTo("datasource");
        assertThat(variable.path("current").path("value").asText()).isEqualTo(datasource.path("uid").asText());
        JsonNode provider = yaml(root.resolve("packaging/grafana/provisioning/dashboards/quicfleet.yml"))
                .path("providers").get(0);
        assertThat(provider.path("type").asText()).isEqualTo("file");
        List<JsonNode> panels = new ArrayList<>();
        dashboard.path("panels").forEach(panels::add);
        Set<Integer> ids = new HashSet<>();
        for (JsonNode panel : panels) {
            assertThat(ids.add(panel.path("id").asInt())).as("duplicate panel id %s", panel.path("id")).isTrue();
            if (!panel.path("type").asText().equals("row")) {
                assertThat(panel.path("datasource").path("uid").asText()).isEqualTo("${datasource}");
                assertThat(panel.path("targets")).as(panel.path("title").asText()).isNotEmpty();
            }
        }
    }

    /**
     * A real Prometheus server scrapes the cluster every second; each panel's query (with Grafana's variables
     * replaced: all hosts, all workers, a 15 s rate window) must be valid PromQL and, unless it filters with a
     * comparison, return data.
     */
    private void everyPanelQueryRunsOnARealPrometheus(URI metrics, int port, List<String> exprs) throws Exception {
        try (RealPrometheus prometheus = RealPrometheus.scraping(metrics, tmp)) {
            URI api = prometheus.queryPrefix();
            // Enough scrapes for a 15 s rate with requests in between.
            await(api, "count_over_time(quicfleet_build_info[20s]) >= 8", Duration.ofSeconds(60), () -> {
                sendRequests(port, 2);
                return null;
            });
            for (String expr : exprs) {
                String query = expr.replace("$__rate_interval", "15s").replace("$instance", ".*")
                        .replace("$worker", ".*");
                JsonNode answer = query(api, query);
                assertThat(answer.path("status").asText()).as("%s: %s", query, answer).isEqualTo("success");
                if (!query.matches(".*\\) > 0\\s*$")) {
                    assertThat(answer.path("data").path("result")).as("no data for %s", query).isNotEmpty();
                }
            }
        }
    }

    // ---- helpers ----

    private static void collectExprs(JsonNode panels, List<String> exprs) {
        for (JsonNode panel : panels) {
            panel.path("targets").forEach(t -> exprs.add(t.path("expr").asText()));
            collectExprs(panel.path("panels"), exprs);
        }
    }

    /** The scrape as metric name → the label sets of its samples. */
    private static Map<String, List<Map<String, String>>> series(String scrape) {
        Map<String, List<Map<String, String>>> series = new HashMap<>();
        for (String line : scrape.lines().toList()) {
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            Matcher m = SERIES_LINE.matcher(line);
            assertThat(m.matches()).as(line).isTrue();
            series.computeIfAbsent(m.group(1), k -> new ArrayList<>()).add(labels(m.group(2)));
        }
        return series;
    }

    private static Map<String, String> labels(String text) {
        Map<String, String> labels = new TreeMap<>();
        if (text != null) {
            Matcher m = LABEL.matcher(text);
            while (m.find()) {
                labels.put(m.group(1), m.group(2));
            }
        }
        return labels;
    }

    private static JsonNode yaml(Path file) throws Exception {
        return new ObjectMapper(new YAMLFactory()).readTree(file.toFile());
    }

    private static String promtool(Path dir, String... args) throws Exception {
        if (!Files.isExecutable(PROMTOOL)) {
            throw new IllegalStateException("promtool is not installed: run ./scripts/install-test-deps");
        }
        List<String> command = new ArrayList<>(List.of(PROMTOOL.toString()));
        command.addAll(List.of(args));
        Process promtool = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String output = new String(promtool.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(promtool.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(promtool.exitValue()).as(output).isZero();
        return output;
    }

    private static JsonNode query(URI api, String query) throws Exception {
        try (HttpClient http = HttpClient.newHttpClient()) {
            HttpResponse<String> response = http.send(HttpRequest.newBuilder(
                    URI.create(api + URLEncoder.encode(query, StandardCharsets.UTF_8)))
                    .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
            return new ObjectMapper().readTree(response.body());
        }
    }

    private static void await(URI api, String query, Duration timeout, Callable<Void> between)
            throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        Object monitor = new Object();
        while (System.nanoTime() < deadline) {
            try {
                if (!query(api, query).path("data").path("result").isEmpty()) {
                    return;
                }
            } catch (java.io.IOException e) {
                // Prometheus still starting
            }
            between.call();
            synchronized (monitor) {
                monitor.wait(250);
            }
        }
        throw new AssertionError(query + " never returned data within " + timeout);
    }

    /** {@code n} HTTP/1.1 requests, each on a new connection (so both workers get some). */
    private void sendRequests(int port, int n) throws Exception {
        SSLContext ssl = TestTls.trusting(tmp.resolve("state/dev-cert.pem"));
        for (int i = 0; i < n; i++) {
            try (HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).sslContext(ssl)
                    .build()) {
                HttpResponse<String> response = client.send(HttpRequest.newBuilder(
                        URI.create("https://localhost:" + port + "/healthz")).timeout(Duration.ofSeconds(10)).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(response.statusCode()).isEqualTo(200);
            }
        }
    }
}
