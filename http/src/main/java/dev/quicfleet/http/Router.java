package dev.quicfleet.http;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Dispatches each request to the service or handler of the route that matches its host and path, on the event loop:
 * routing costs no thread hop, and a route to a blocking {@link Handler} hands the exchange to a virtual thread only
 * once it is chosen.
 *
 * <p><b>Host.</b> A route is for one host ({@code api.example.com}, compared case-insensitively with
 * {@link Request#host()}), for the subdomains of a domain ({@code *.example.com}: one or more labels below
 * {@code example.com}, not {@code example.com} itself), or for any host. The routes of the exact host are tried
 * first, then those of the matching wildcards (the longest domain first), then the any-host routes; a request falls
 * through to the next group when no prefix in a group matches, so a site-wide route such as
 * {@code /.well-known/acme-challenge} need not be repeated for every host.
 *
 * <p><b>Path.</b> Within a group the longest matching prefix wins. Prefixes match whole segments: {@code /static}
 * matches {@code /static}, {@code /static/} and {@code /static/a}, never {@code /staticfoo}. A prefix ending in a
 * slash, such as {@code /bytes/}, requires it: it matches {@code /bytes/} and {@code /bytes/x} but not
 * {@code /bytes}. The prefix {@code /} matches every path. Prefixes are compared with the percent-encoded path.
 *
 * <p>The service or handler of the matched route sees {@link RequestHead#routePath()} as the rest of the path below the prefix,
 * starting with {@code /}: for the prefix {@code /static}, {@code /static/a.css} becomes {@code /a.css} and
 * {@code /static} becomes {@code /}. Routers nest, because matching uses the incoming {@code routePath()}: a router
 * mounted at {@code /api} with a route {@code /v1} sends {@code /api/v1/users} to that route as {@code /users}.
 * Requests no route matches go to the {@linkplain Builder#notFound(Service) not-found service}.
 *
 * <p>Route tables are sorted once in {@link Builder#build()}; a request costs a hash lookup for its host and a
 * scan of the prefixes, longest first, with no regular expressions, and allocates nothing but the narrowed path.
 *
 * <pre>{@code
 * Router router = Router.builder()
 *         .route("/static", new StaticFiles(Path.of("/srv/www/static")))
 *         .route("api.example.com", "/v1", api)
 *         .route("*.example.com", "/", tenantSites)
 *         .build();
 * }</pre>
 */
public final class Router implements Service {

    private static final Service DEFAULT_NOT_FOUND =
            exchange -> exchange.respond(404, "text/plain; charset=utf-8", "not found");

    private final Map<String, Route[]> exactHosts;
    private final WildcardHost[] wildcardHosts;
    private final Route[] anyHost;
    private final Service notFound;

    private Router(Map<String, Route[]> exactHosts, WildcardHost[] wildcardHosts, Route[] anyHost,
                   Service notFound) {
        this.exactHosts = exactHosts;
        this.wildcardHosts = wildcardHosts;
        this.anyHost = anyHost;
        this.notFound = notFound;
    }

    /** A builder with no routes, whose not-found handler answers {@code 404} with a short plain-text body. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Passes {@code exchange} to the service of the best route, with {@link RequestHead#routePath()} narrowed to the
     * part below the route's prefix, or unchanged to the not-found service when no route matches.
     */
    @Override
    public void serve(HttpExchange exchange) throws Exception {
        String path = exchange.routePath();
        Route route = find(exchange.host(), path);
        if (route == null) {
            notFound.serve(exchange);
            return;
        }
        String rest = route.rest(path);
        // Only the prefix "/" leaves the path as it is; then there is nothing to narrow.
        if (rest.length() != path.length()) {
            exchange.routePath(rest);
        }
        route.service.serve(exchange);
    }

    private Route find(String host, String path) {
        Route[] exact = exactHosts.get(host);
        Route route = exact != null ? longestPrefix(exact, path) : null;
        for (int i = 0; route == null && i < wildcardHosts.length; i++) {
            if (wildcardHosts[i].matches(host)) {
                route = longestPrefix(wildcardHosts[i].routes, path);
            }
        }
        return route != null ? route : longestPrefix(anyHost, path);
    }

    private static Route longestPrefix(Route[] routes, String path) {
        // Sorted longest first, so the first match is the longest.
        for (Route route : routes) {
            if (route.matches(path)) {
                return route;
            }
        }
        return null;
    }

    /** Collects routes; {@link #build()} checks them as a whole and produces an immutable {@link Router}. */
    public static final class Builder {

        private final List<Route> routes = new ArrayList<>();
        private Service notFound = DEFAULT_NOT_FOUND;

        private Builder() {
        }

        /**
         * Routes requests for any host whose path is below {@code pathPrefix} to {@code handler}.
         *
         * @param pathPrefix starts with {@code /}; see {@link Router} for how it matches
         * @throws IllegalArgumentException when {@code pathPrefix} does not start with {@code /} or contains
         *                                  {@code ?} or {@code #}, which a path never does
         */
        public Builder route(String pathPrefix, Handler handler) {
            return route(pathPrefix, Service.blocking(handler));
        }

        /**
         * Routes requests for any host whose path is below {@code pathPrefix} to {@code service}, on the event loop.
         *
         * @throws IllegalArgumentException as for {@link #route(String, Handler)}
         */
        public Builder route(String pathPrefix, Service service) {
            routes.add(new Route(null, checkPrefix(pathPrefix), Objects.requireNonNull(service, "service")));
            return this;
        }

        /**
         * Routes requests for {@code host} whose path is below {@code pathPrefix} to {@code handler}.
         *
         * @param host an exact host name such as {@code api.example.com} (case-insensitive, without port) or a
         *             wildcard {@code *.example.com} for the subdomains of {@code example.com}
         * @throws IllegalArgumentException when {@code host} is empty, has a port, or has a {@code *} anywhere but as
         *                                  the whole first label, or {@code pathPrefix} is invalid as for
         *                                  {@link #route(String, Handler)}
         */
        public Builder route(String host, String pathPrefix, Handler handler) {
            return route(host, pathPrefix, Service.blocking(handler));
        }

        /**
         * Routes requests for {@code host} whose path is below {@code pathPrefix} to {@code service}, on the event
         * loop.
         *
         * @throws IllegalArgumentException as for {@link #route(String, String, Handler)}
         */
        public Builder route(String host, String pathPrefix, Service service) {
            routes.add(new Route(checkHost(host), checkPrefix(pathPrefix),
                    Objects.requireNonNull(service, "service")));
            return this;
        }

        /** The handler for requests no route matches; it sees the request unchanged. */
        public Builder notFound(Handler handler) {
            return notFound(Service.blocking(handler));
        }

        /** The service for requests no route matches; it sees the request unchanged. */
        public Builder notFound(Service service) {
            this.notFound = Objects.requireNonNull(service, "service");
            return this;
        }

        /**
         * A router with the routes added so far; later changes to this builder do not affect it.
         *
         * @throws IllegalArgumentException when two routes have the same host and prefix
         */
        public Router build() {
            Map<String, List<Route>> exact = new HashMap<>();
            Map<String, List<Route>> wildcard = new HashMap<>();
            List<Route> any = new ArrayList<>();
            Set<List<String>> seen = new HashSet<>();
            for (Route route : routes) {
                if (!seen.add(Arrays.asList(route.host, route.prefix))) {
                    String hostLabel = route.host == null ? "any host" : "host " + route.host;
                    throw new IllegalArgumentException("route: " + hostLabel + " and prefix " + route.prefix
                            + " are routed twice (expected: one service or handler per host and prefix)");
                }
                if (route.host == null) {
                    any.add(route);
                } else if (route.host.startsWith("*.")) {
                    // "*.example.com" is stored as ".example.com", the suffix a matching host ends with.
                    wildcard.computeIfAbsent(route.host.substring(1), suffix -> new ArrayList<>()).add(route);
                } else {
                    exact.computeIfAbsent(route.host, host -> new ArrayList<>()).add(route);
                }
            }
            Map<String, Route[]> exactHosts = new HashMap<>();
            exact.forEach((host, hostRoutes) -> exactHosts.put(host, sorted(hostRoutes)));
            WildcardHost[] wildcardHosts = wildcard.entrySet().stream()
                    .map(entry -> new WildcardHost(entry.getKey(), sorted(entry.getValue())))
                    .sorted(Comparator.comparingInt((WildcardHost w) -> w.suffix.length()).reversed())
                    .toArray(WildcardHost[]::new);
            return new Router(Map.copyOf(exactHosts), wildcardHosts, sorted(any), notFound);
        }

        private static Route[] sorted(List<Route> routes) {
            return routes.stream()
                    .sorted(Comparator.comparingInt((Route route) -> route.prefix.length()).reversed())
                    .toArray(Route[]::new);
        }

        private static String checkPrefix(String pathPrefix) {
            Objects.requireNonNull(pathPrefix, "pathPrefix");
            if (!pathPrefix.startsWith("/") || pathPrefix.indexOf('?') >= 0 || pathPrefix.indexOf('#') >= 0) {
                throw new IllegalArgumentException("pathPrefix: \"" + pathPrefix
                        + "\" (expected: a path starting with /, without ? or #)");
            }
            return pathPrefix;
        }

        private static String checkHost(String host) {
            Objects.requireNonNull(host, "host");
            String lower = host.toLowerCase(Locale.ROOT);
            int star = lower.indexOf('*');
            boolean validWildcard = star < 0 || star == 0 && lower.startsWith("*.") && lower.length() > 2
                    && lower.indexOf('*', 1) < 0 && lower.charAt(2) != '.';
            // A port never matches: Request.host() has none. Bracketed IPv6 literals contain colons of their own.
            boolean hasPort = lower.indexOf(':') >= 0 && !lower.startsWith("[");
            if (lower.isBlank() || !validWildcard || hasPort) {
                throw new IllegalArgumentException("host: \"" + host + "\" (expected: a host name without port "
                        + "such as example.com, or *.example.com for its subdomains)");
            }
            return lower;
        }
    }

    /**
     * One route: {@code host} is lower case, {@code *.domain} or {@code null} for any host.
     * A prefix ending in {@code /} matches paths that start with it; any other prefix matches itself and the
     * paths that continue it with {@code /}.
     */
    private record Route(String host, String prefix, Service service) {

        boolean matches(String path) {
            if (!path.startsWith(prefix)) {
                return false;
            }
            int end = prefix.length();
            return prefix.endsWith("/") || path.length() == end || path.charAt(end) == '/';
        }

        /** The part of a matching {@code path} below the prefix, starting with {@code /}. */
        String rest(String path) {
            int end = prefix.length();
            if (prefix.endsWith("/")) {
                return path.substring(end - 1);
            }
            return path.length() == end ? "/" : path.substring(end);
        }
    }

    /** The routes of a wildcard host; {@code suffix} is {@code .example.com} for {@code *.example.com}. */
    private record WildcardHost(String suffix, Route[] routes) {

        boolean matches(String host) {
            // Longer than the suffix: at least one label before it, so example.com itself does not match.
            return host.length() > suffix.length() && host.endsWith(suffix);
        }
    }
}
