package dev.quicfleet.worker.site;

import com.fasterxml.jackson.databind.JsonNode;
import dev.quicfleet.proxy.ProxyConfig;
import dev.quicfleet.transport.ConfigValues;
import dev.quicfleet.worker.site.SiteConfig.Action;
import dev.quicfleet.worker.site.SiteConfig.App;
import dev.quicfleet.worker.site.SiteConfig.Redirect;
import dev.quicfleet.worker.site.SiteConfig.Respond;
import dev.quicfleet.worker.site.SiteConfig.Route;
import dev.quicfleet.worker.site.SiteConfig.Site;
import dev.quicfleet.worker.site.SiteConfig.Static;
import dev.quicfleet.worker.site.SiteConfig.Upstream;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * Reads the {@code sites} key of a configuration file (already parsed as YAML) into a {@link SiteConfig}. Every key
 * and value is checked here, before anything is started: the first problem fails with a {@link SiteConfigException}
 * whose one-line message names the key path ({@code sites[0].routes[1].upstream.balance}), the value and what is
 * expected. Unknown keys are errors, not ignored. Relative paths ({@code static}, {@code app.jar}, an upstream's
 * {@code ca}, {@code client-cert} and {@code client-key}) are resolved against the directory of the configuration
 * file. An upstream pool starts from the worker's proxy options (its flags and the file's top-level keys) and its own
 * keys override them.
 */
public final class SiteConfigParser {

    private static final List<String> SITE_KEYS = List.of("hosts", "default", "routes");
    private static final List<String> ACTIONS = List.of("upstream", "static", "app", "redirect", "respond");
    /** The mapping form's keys: {@code urls}, and the {@code --upstream-*} flags' names without {@code upstream-}. */
    private static final List<String> UPSTREAM_KEYS = List.of("urls", "balance", "connect-timeout",
            "response-timeout", "idle-timeout", "max-fails", "max-5xx", "health-path", "health-interval",
            "keepalive-timeout", "max-idle", "ca", "server-name", "client-cert", "client-key");
    private static final List<String> APP_KEYS = List.of("jar", "class");
    private static final List<String> REDIRECT_KEYS = List.of("status", "location");
    private static final List<String> RESPOND_KEYS = List.of("status", "body", "content-type");
    private static final Set<Integer> REDIRECT_STATUSES = Set.of(301, 302, 303, 307, 308);
    private static final Pattern CLASS_NAME =
            Pattern.compile("\\p{javaJavaIdentifierStart}\\p{javaJavaIdentifierPart}*"
                    + "(\\.\\p{javaJavaIdentifierStart}\\p{javaJavaIdentifierPart}*)*(\\$[\\p{javaJavaIdentifierPart}]+)*");
    private static final Pattern HOST_LABELS = Pattern.compile("[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?"
            + "(\\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\\.?");

    private final Path baseDir;
    private final Supplier<ProxyConfig.Builder> proxyOptions;

    private SiteConfigParser(Path baseDir, Supplier<ProxyConfig.Builder> proxyOptions) {
        this.baseDir = baseDir;
        this.proxyOptions = proxyOptions;
    }

    /**
     * Parses {@code sites}, the value of the file's {@code sites} key.
     *
     * @param baseDir the configuration file's directory, against which relative paths resolve
     * @throws SiteConfigException for the first bad key or value
     */
    public static SiteConfig parse(JsonNode sites, Path baseDir) {
        return parse(sites, baseDir, ProxyConfig::builder);
    }

    /**
     * As {@link #parse(JsonNode, Path)}, with the worker's proxy options: {@code proxyOptions} gives a new builder
     * with them (and no upstreams) for each pool, whose keys then override them.
     *
     * @throws SiteConfigException for the first bad key or value
     */
    public static SiteConfig parse(JsonNode sites, Path baseDir, Supplier<ProxyConfig.Builder> proxyOptions) {
        return new SiteConfigParser(baseDir.toAbsolutePath(), proxyOptions).sites(sites);
    }

    private SiteConfig sites(JsonNode node) {
        String key = "sites";
        if (node == null || !node.isArray() || node.isEmpty()) {
            throw error(key, describe(node), "a list of sites, each with hosts (or default: true) and routes");
        }
        List<Site> sites = new ArrayList<>();
        Map<String, String> hostOwners = new HashMap<>();
        String defaultSite = null;
        for (int i = 0; i < node.size(); i++) {
            String path = key + "[" + i + "]";
            Site site = site(node.get(i), path, hostOwners);
            if (site.isDefault()) {
                if (defaultSite != null) {
                    throw error(path + ".default", "true, but " + defaultSite + " is the default site already",
                            "one default site");
                }
                defaultSite = path;
            }
            sites.add(site);
        }
        return new SiteConfig(sites);
    }

    private Site site(JsonNode node, String path, Map<String, String> hostOwners) {
        requireMapping(node, path, "a site: a mapping with hosts (or default: true) and routes");
        checkKeys(node, path, SITE_KEYS);
        JsonNode hostsNode = node.get("hosts");
        JsonNode defaultNode = node.get("default");
        boolean isDefault = false;
        if (defaultNode != null) {
            if (!defaultNode.isBoolean()) {
                throw error(path + ".default", describe(defaultNode), "true or false");
            }
            isDefault = defaultNode.booleanValue();
        }
        List<String> hosts = new ArrayList<>();
        if (hostsNode != null && isDefault) {
            throw error(path, "both hosts and default: true", "hosts for named hosts, or default: true for every "
                    + "other host");
        }
        if (hostsNode == null && !isDefault) {
            throw error(path, "no hosts", "hosts: [example.com, \"*.example.com\"], or default: true for every "
                    + "host no other site names");
        }
        if (hostsNode != null) {
            if (!hostsNode.isArray() || hostsNode.isEmpty()) {
                throw error(path + ".hosts", describe(hostsNode), "a list of host names such as [example.com, "
                        + "\"*.example.com\"]");
            }
            for (int i = 0; i < hostsNode.size(); i++) {
                String hostPath = path + ".hosts[" + i + "]";
                String host = host(hostsNode.get(i), hostPath);
                String owner = hostOwners.putIfAbsent(host, hostPath);
                if (owner != null) {
                    throw error(hostPath, host + ", named already by " + owner, "each host in one site only");
                }
                hosts.add(host);
            }
        }
        JsonNode routesNode = node.get("routes");
        if (routesNode == null || !routesNode.isArray() || routesNode.isEmpty()) {
            throw error(path + ".routes", describe(routesNode), "a list of routes, each with a path and one of "
                    + String.join(", ", ACTIONS));
        }
        List<Route> routes = new ArrayList<>();
        Map<String, String> prefixes = new HashMap<>();
        for (int i = 0; i < routesNode.size(); i++) {
            String routePath = path + ".routes[" + i + "]";
            Route route = route(routesNode.get(i), routePath);
            String owner = prefixes.putIfAbsent(route.path(), routePath);
            if (owner != null) {
                throw error(routePath + ".path", route.path() + ", routed already by " + owner,
                        "each path once per site");
            }
            routes.add(route);
        }
        return new Site(hosts, isDefault, routes);
    }

    private static String host(JsonNode node, String path) {
        String expected = "a host name without port such as example.com, or \"*.example.com\" (quoted) for its "
                + "subdomains";
        if (node == null || !node.isTextual()) {
            throw error(path, describe(node), expected);
        }
        String host = node.textValue().trim().toLowerCase(Locale.ROOT);
        String name = host.startsWith("*.") ? host.substring(2) : host;
        boolean ipv6 = name.startsWith("[") && name.endsWith("]") && name.length() > 2;
        if (!ipv6 && !HOST_LABELS.matcher(name).matches()) {
            throw error(path, "\"" + node.textValue() + "\"", expected);
        }
        return host.endsWith(".") ? host.substring(0, host.length() - 1) : host;
    }

    private Route route(JsonNode node, String path) {
        requireMapping(node, path, "a route: a mapping with a path and one of " + String.join(", ", ACTIONS));
        List<String> keys = new ArrayList<>(List.of("path"));
        keys.addAll(ACTIONS);
        checkKeys(node, path, keys);
        JsonNode prefixNode = node.get("path");
        String expectedPath = "a path prefix starting with /, without ? or #, such as /api";
        if (prefixNode == null || !prefixNode.isTextual()) {
            throw error(path + ".path", describe(prefixNode), expectedPath);
        }
        String prefix = prefixNode.textValue();
        if (!prefix.startsWith("/") || prefix.indexOf('?') >= 0 || prefix.indexOf('#') >= 0
                || prefix.chars().anyMatch(c -> c <= ' ' || c == 0x7f)) {
            throw error(path + ".path", "\"" + prefix + "\"", expectedPath);
        }
        String action = null;
        for (String name : ACTIONS) {
            if (node.has(name)) {
                if (action != null) {
                    throw error(path, "both " + action + " and " + name, "exactly one of " + String.join(", ", ACTIONS));
                }
                action = name;
            }
        }
        if (action == null) {
            throw error(path, "no action", "exactly one of " + String.join(", ", ACTIONS));
        }
        String actionPath = path + "." + action;
        JsonNode value = node.get(action);
        Action parsed = switch (action) {
            case "upstream" -> upstream(value, actionPath);
            case "static" -> staticDir(value, actionPath);
            case "app" -> app(value, actionPath);
            case "redirect" -> redirect(value, actionPath);
            default -> respond(value, actionPath);
        };
        return new Route(prefix, parsed);
    }

    /**
     * {@code upstream: http://...}, {@code upstream: [urls]} or {@code upstream: {urls: [...], balance: ...}}: the
     * worker's proxy options, overridden by the mapping's keys.
     */
    private Upstream upstream(JsonNode node, String path) {
        JsonNode urls = node;
        ProxyConfig.Builder builder = proxyOptions.get();
        if (node != null && node.isObject()) {
            checkKeys(node, path, UPSTREAM_KEYS);
            urls = node.get("urls");
            poolKeys(node, path, builder);
            path = path + ".urls";
        }
        String expected = path.endsWith(".urls") ? "http://HOST:PORT or a list of them"
                : "http://HOST:PORT, a list of them, or a mapping with urls and optionally "
                + String.join(", ", UPSTREAM_KEYS.subList(1, UPSTREAM_KEYS.size()));
        if (urls == null || urls.isNull() || urls.isArray() && urls.isEmpty() || urls.isObject()) {
            throw error(path, describe(urls), expected);
        }
        List<JsonNode> items = new ArrayList<>();
        if (urls.isArray()) {
            urls.forEach(items::add);
        } else {
            items.add(urls);
        }
        Map<String, String> seen = new HashMap<>();
        for (int i = 0; i < items.size(); i++) {
            String itemPath = urls.isArray() ? path + "[" + i + "]" : path;
            JsonNode item = items.get(i);
            if (!item.isTextual()) {
                throw error(itemPath, describe(item), "http://HOST:PORT such as http://127.0.0.1:8080");
            }
            String url;
            try {
                url = ProxyConfig.parseUpstream(item.textValue()).toString();
            } catch (IllegalArgumentException e) {
                throw rekey(e, "upstream", itemPath);
            }
            String owner = seen.putIfAbsent(url, itemPath);
            if (owner != null) {
                throw error(itemPath, item.textValue() + ", listed already as " + owner, "each upstream once");
            }
            builder.upstream(url);
        }
        try {
            return new Upstream(builder.build());
        } catch (IllegalArgumentException e) {
            // ranges, the CA file, the client certificate: ProxyConfig names them as the flags do
            throw poolError(e, path(path), node);
        }
    }

    /** The mapping form's keys but {@code urls}, onto {@code builder}. */
    private void poolKeys(JsonNode node, String path, ProxyConfig.Builder builder) {
        String at = path + ".";
        try {
            JsonNode value;
            if ((value = node.get("balance")) != null) {
                builder.balance(ProxyConfig.Balance.parse(scalar(value, at + "balance",
                        "round-robin or least-requests")));
            }
            if ((value = node.get("connect-timeout")) != null) {
                builder.connectTimeout(duration(value, at + "connect-timeout"));
            }
            if ((value = node.get("response-timeout")) != null) {
                builder.responseTimeout(duration(value, at + "response-timeout"));
            }
            if ((value = node.get("idle-timeout")) != null) {
                builder.idleTimeout(duration(value, at + "idle-timeout"));
            }
            if ((value = node.get("max-fails")) != null) {
                builder.maxFails(integer(value, at + "max-fails", "1..1000"));
            }
            if ((value = node.get("max-5xx")) != null) {
                builder.max5xx(integer(value, at + "max-5xx", "0..1000, 0 for off"));
            }
            if ((value = node.get("health-path")) != null) {
                builder.healthPath(scalar(value, at + "health-path", "a path such as /healthz, starting with /, "
                        + "without spaces"));
            }
            if ((value = node.get("health-interval")) != null) {
                builder.healthInterval(duration(value, at + "health-interval"));
            }
            if ((value = node.get("keepalive-timeout")) != null) {
                builder.keepAliveTimeout(duration(value, at + "keepalive-timeout"));
            }
            if ((value = node.get("max-idle")) != null) {
                builder.maxIdle(integer(value, at + "max-idle", "0..10000"));
            }
            if ((value = node.get("ca")) != null) {
                String expected = "a PEM file with the CA certificates that signed the upstreams' certificates";
                builder.upstreamCa(resolve(scalar(value, at + "ca", expected), at + "ca", expected));
            }
            if ((value = node.get("server-name")) != null) {
                builder.upstreamServerName(scalar(value, at + "server-name", "a host name such as api.internal"));
            }
            clientCertificate(node, at, builder);
        } catch (SiteConfigException e) {
            throw e;
        } catch (IllegalArgumentException e) {
            throw poolError(e, path, node);
        }
    }

    /**
     * {@code client-cert} and {@code client-key}, both or neither: the pair replaces the worker's
     * ({@code --upstream-client-cert}, {@code --upstream-client-key}) as a whole, never half of it.
     */
    private void clientCertificate(JsonNode node, String at, ProxyConfig.Builder builder) {
        JsonNode cert = node.get("client-cert");
        JsonNode key = node.get("client-key");
        if (cert == null && key == null) {
            return;
        }
        String certExpected = "a PEM file with the client certificate, then its intermediates";
        String keyExpected = "a PEM file with the client certificate's private key, unencrypted PKCS#8 "
                + "(-----BEGIN PRIVATE KEY-----), EC or RSA";
        Path certFile = cert == null ? null
                : resolve(scalar(cert, at + "client-cert", certExpected), at + "client-cert", certExpected);
        Path keyFile = key == null ? null
                : resolve(scalar(key, at + "client-key", keyExpected), at + "client-key", keyExpected);
        if (certFile == null || keyFile == null) {
            String missing = certFile == null ? "client-cert" : "client-key";
            String given = certFile == null ? "client-key is " + keyFile : "client-cert is " + certFile;
            throw new SiteConfigException(at + missing + ": missing (" + given + "; expected: both client-cert and "
                    + "client-key, or neither)");
        }
        builder.upstreamClientCertificate(certFile, keyFile);
    }

    /**
     * {@code e} from {@link ProxyConfig}, whose message names a flag ({@code upstream-max-idle}), at the key path of
     * the pool's own key; a problem with a value the pool took from the worker's flags keeps the flag's name.
     */
    private static SiteConfigException poolError(IllegalArgumentException e, String path, JsonNode pool) {
        for (String key : UPSTREAM_KEYS) {
            String flag = "upstream-" + key;
            if (e.getMessage() != null && e.getMessage().startsWith(flag + ":") && pool != null && pool.isObject()
                    && pool.has(key)) {
                return rekey(e, flag, path + "." + key);
            }
        }
        return new SiteConfigException(path + ": " + e.getMessage());
    }

    /** The upstream's own path, from the path of its {@code urls} (for the mapping form's other keys). */
    private static String path(String urlsPath) {
        return urlsPath.endsWith(".urls") ? urlsPath.substring(0, urlsPath.length() - ".urls".length()) : urlsPath;
    }

    private Static staticDir(JsonNode node, String path) {
        String expected = "an existing directory, such as /srv/www";
        Path dir = resolve(scalar(node, path, expected), path, expected);
        if (!Files.isDirectory(dir)) {
            throw error(path, dir.toString(), expected);
        }
        return new Static(dir);
    }

    private App app(JsonNode node, String path) {
        requireMapping(node, path, "a mapping {jar: app.jar, class: com.example.Site}");
        checkKeys(node, path, APP_KEYS);
        String jarExpected = "an existing jar file with the handler's classes";
        JsonNode jarNode = node.get("jar");
        if (jarNode == null) {
            throw error(path + ".jar", "missing", jarExpected);
        }
        Path jar = resolve(scalar(jarNode, path + ".jar", jarExpected), path + ".jar", jarExpected);
        if (!Files.isRegularFile(jar)) {
            throw error(path + ".jar", jar + " does not exist", jarExpected);
        }
        if (!Files.isReadable(jar)) {
            throw error(path + ".jar", jar + " is not readable", jarExpected + ", readable by the worker's user");
        }
        String classExpected = "the binary name of a class implementing dev.quicfleet.http.Handler or "
                + "dev.quicfleet.http.Service, such as com.example.Site";
        JsonNode classNode = node.get("class");
        if (classNode == null) {
            return new App(jar, null); // the jar's service provider, found when it is loaded
        }
        String className = scalar(classNode, path + ".class", classExpected);
        if (!CLASS_NAME.matcher(className).matches()) {
            throw error(path + ".class", "\"" + className + "\"", classExpected);
        }
        return new App(jar, className);
    }

    private static Redirect redirect(JsonNode node, String path) {
        requireMapping(node, path, "a mapping {status: 301, location: https://example.com/}");
        checkKeys(node, path, REDIRECT_KEYS);
        int status = 302;
        JsonNode statusNode = node.get("status");
        String statusExpected = "301, 302, 303, 307 or 308";
        if (statusNode != null) {
            if (!statusNode.canConvertToInt() || !statusNode.isIntegralNumber()
                    || !REDIRECT_STATUSES.contains(statusNode.intValue())) {
                throw error(path + ".status", describe(statusNode), statusExpected);
            }
            status = statusNode.intValue();
        }
        JsonNode locationNode = node.get("location");
        String locationExpected = "a URL or an absolute path, such as https://example.com/ or /new";
        if (locationNode == null) {
            throw error(path + ".location", "missing", locationExpected);
        }
        String location = scalar(locationNode, path + ".location", locationExpected);
        if (location.isEmpty() || location.chars().anyMatch(c -> c < ' ' || c == 0x7f)) {
            throw error(path + ".location", "\"" + location + "\"", locationExpected);
        }
        return new Redirect(status, location);
    }

    private static Respond respond(JsonNode node, String path) {
        requireMapping(node, path, "a mapping {status: 200, body: \"text\", content-type: text/plain}");
        checkKeys(node, path, RESPOND_KEYS);
        int status = 200;
        JsonNode statusNode = node.get("status");
        if (statusNode != null) {
            if (!statusNode.isIntegralNumber() || !statusNode.canConvertToInt() || statusNode.intValue() < 200
                    || statusNode.intValue() > 599) {
                throw error(path + ".status", describe(statusNode), "a status code 200..599");
            }
            status = statusNode.intValue();
        }
        String body = "";
        JsonNode bodyNode = node.get("body");
        if (bodyNode != null) {
            body = scalar(bodyNode, path + ".body", "text");
        }
        String contentType = "text/plain; charset=utf-8";
        JsonNode typeNode = node.get("content-type");
        String typeExpected = "a media type such as text/html; charset=utf-8";
        if (typeNode != null) {
            contentType = scalar(typeNode, path + ".content-type", typeExpected);
            if (contentType.indexOf('/') <= 0 || contentType.chars().anyMatch(c -> c < ' ' || c == 0x7f)) {
                throw error(path + ".content-type", "\"" + contentType + "\"", typeExpected);
            }
        }
        return new Respond(status, body, contentType);
    }

    /** A whole number; {@code range} ({@code 0..10000}) is what is expected, checked by the caller. */
    private static int integer(JsonNode node, String path, String range) {
        String text = scalar(node, path, "a whole number " + range);
        try {
            return Integer.parseInt(text.trim());
        } catch (NumberFormatException e) {
            throw error(path, describe(node), "a whole number " + range);
        }
    }

    private static java.time.Duration duration(JsonNode node, String path) {
        String text = scalar(node, path, "a duration such as 500ms, 30s, 5m, 1h or PT30S");
        try {
            return ConfigValues.duration(path, text);
        } catch (IllegalArgumentException e) {
            throw new SiteConfigException(e.getMessage());
        }
    }

    private Path resolve(String text, String path, String expected) {
        try {
            return baseDir.resolve(text).normalize();
        } catch (InvalidPathException e) {
            throw error(path, "\"" + text + "\"", expected);
        }
    }

    /** A text, number or boolean as text; anything else (list, mapping, null) fails. */
    private static String scalar(JsonNode node, String path, String expected) {
        if (node == null || !node.isValueNode() || node.isNull()) {
            throw error(path, describe(node), expected);
        }
        return node.asText();
    }

    private static void requireMapping(JsonNode node, String path, String expected) {
        if (node == null || !node.isObject()) {
            throw error(path, describe(node), expected);
        }
    }

    private static void checkKeys(JsonNode node, String path, List<String> known) {
        for (Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!known.contains(name)) {
                throw error(path, "unknown key \"" + name + "\"", "one of " + String.join(", ", known));
            }
        }
    }

    /** How a value looks to the operator who wrote it. */
    private static String describe(JsonNode node) {
        if (node == null || node.isMissingNode()) {
            return "missing";
        }
        if (node.isNull()) {
            return "empty";
        }
        if (node.isArray()) {
            return node.isEmpty() ? "an empty list" : "a list";
        }
        if (node.isObject()) {
            return node.isEmpty() ? "an empty mapping" : "a mapping";
        }
        if (node.isTextual()) {
            return "\"" + node.textValue() + "\"";
        }
        return node.asText();
    }

    private static SiteConfigException error(String path, String value, String expected) {
        return new SiteConfigException(path + ": " + value + " (expected: " + expected + ")");
    }

    /** {@code e}'s message with its flag name {@code flagKey} replaced by the key path {@code path}. */
    private static SiteConfigException rekey(IllegalArgumentException e, String flagKey, String path) {
        String message = e.getMessage();
        return new SiteConfigException(message.startsWith(flagKey + ":")
                ? path + message.substring(flagKey.length()) : path + ": " + message);
    }
}
