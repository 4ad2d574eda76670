package dev.quicfleet.worker.site;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;

/**
 * Fuzzes {@link SiteConfigParser} with trees of the file's own keys and any values (what YAML can express: text,
 * numbers, booleans, null, lists, mappings). Contract: a tree is accepted, or refused with a
 * {@link SiteConfigException} whose one-line message starts with the key path — never another exception (a stack
 * trace for an operator's typo). Upstream URLs come from a fixed list of IP literals: a fuzzer must not send DNS
 * queries. See docs/FUZZING.md.
 */
class SiteConfigFuzzTest {

    private static final String[] KEYS = {"hosts", "default", "routes", "path", "upstream", "static", "app",
        "redirect", "respond", "urls", "balance", "connect-timeout", "response-timeout", "idle-timeout", "jar",
        "class", "status", "location", "body", "content-type", "x"};
    private static final String[] URLS = {"http://127.0.0.1:8080", "http://[::1]:1", "http://127.0.0.1", "ftp://1.2.3.4:5",
        "http://127.0.0.1:0", "127.0.0.1:80", "http://127.0.0.1:8080/path", "", "http://u@127.0.0.1:1"};
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    @FuzzTest(maxDuration = "10s")
    void acceptsOrNamesTheKey(FuzzedDataProvider data) {
        JsonNode sites = value(data, 0, "sites");
        try {
            SiteConfigParser.parse(sites, Path.of("/nonexistent-quicfleet-fuzz"));
        } catch (SiteConfigException e) {
            assertThat(e.getMessage()).startsWith("sites").doesNotContain("\n").doesNotContain("java.lang.");
        }
    }

    private static JsonNode value(FuzzedDataProvider data, int depth, String key) {
        int kind = data.consumeInt(0, depth > 5 ? 4 : 6);
        return switch (kind) {
            case 0 -> NODES.nullNode();
            case 1 -> NODES.booleanNode(data.consumeBoolean());
            case 2 -> NODES.numberNode(data.consumeInt());
            case 3 -> NODES.numberNode(data.consumeDouble());
            case 4 -> NODES.textNode(key.equals("upstream") || key.equals("urls") ? data.pickValue(URLS)
                    : data.consumeString(30));
            case 5 -> {
                ArrayNode list = NODES.arrayNode();
                int n = data.consumeInt(0, 3);
                for (int i = 0; i < n; i++) {
                    list.add(value(data, depth + 1, key));
                }
                yield list;
            }
            default -> {
                ObjectNode map = NODES.objectNode();
                int n = data.consumeInt(0, 4);
                for (int i = 0; i < n; i++) {
                    String name = data.pickValue(KEYS);
                    map.set(name, value(data, depth + 1, name));
                }
                yield map;
            }
        };
    }
}
