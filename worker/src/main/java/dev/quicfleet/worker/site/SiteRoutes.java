package dev.quicfleet.worker.site;

import dev.quicfleet.http.Headers;
import dev.quicfleet.http.HttpExchange;
import dev.quicfleet.http.Router;
import dev.quicfleet.http.Service;
import dev.quicfleet.proxy.ProxyService;
import dev.quicfleet.worker.services.StaticFiles;
import dev.quicfleet.worker.site.SiteConfig.Route;
import dev.quicfleet.worker.site.SiteConfig.Site;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;

/**
 * Turns a {@link SiteConfig} into routes of the worker's {@link Router}: each site's hosts get its routes, the default
 * site's routes serve every other host. The router's tables are built once, so a request costs a hash lookup of its
 * host and a scan of that host's prefixes, longest first; every service here is made once per route, and the fixed
 * responses keep their headers and body bytes ready.
 */
public final class SiteRoutes {

    private final int routeCount;
    private final int siteCount;
    private final Map<String, ProxyService> pools = new LinkedHashMap<>();

    private SiteRoutes(int siteCount, int routeCount) {
        this.siteCount = siteCount;
        this.routeCount = routeCount;
    }

    /**
     * Checks what the parser cannot: that every app's class is in its jar and is a handler or service that can be
     * made (without making it).
     *
     * @throws SiteConfigException naming the first app that is not
     */
    public static void check(SiteConfig config, AppLoader apps) {
        forEachRoute(config, (route, path) -> {
            if (route.action() instanceof SiteConfig.App app) {
                apps.check(app, path + ".app");
            }
        });
    }

    /**
     * Adds {@code config}'s routes to {@code routes}, making their services (loading the apps' classes). Routes of the
     * default site whose path is in {@code overridden} are left out: a flag ({@code --upstream}, {@code --static-dir})
     * routes that path for every host, and flags win over the file.
     *
     * @throws SiteConfigException when an app cannot be loaded or made
     */
    public static SiteRoutes addTo(Router.Builder routes, SiteConfig config, Set<String> overridden, AppLoader apps) {
        SiteRoutes site = new SiteRoutes(config.sites().size(), config.sites().stream()
                .mapToInt(s -> s.routes().size()).sum());
        for (int i = 0; i < config.sites().size(); i++) {
            Site s = config.sites().get(i);
            for (int j = 0; j < s.routes().size(); j++) {
                Route route = s.routes().get(j);
                if (s.isDefault() && overridden.contains(route.path())) {
                    continue;
                }
                Service service = site.service(route, "sites[" + i + "].routes[" + j + "]", apps);
                if (s.isDefault()) {
                    routes.route(route.path(), service);
                } else {
                    for (String host : s.hosts()) {
                        routes.route(host, route.path(), service);
                    }
                }
            }
        }
        return site;
    }

    private Service service(Route route, String path, AppLoader apps) {
        return switch (route.action()) {
            case SiteConfig.Upstream upstream -> {
                ProxyService pool = new ProxyService(upstream.proxy());
                pools.put(path, pool);
                yield pool;
            }
            case SiteConfig.Static files -> new StaticFiles(files.dir());
            case SiteConfig.App app -> apps.load(app, path + ".app");
            case SiteConfig.Redirect redirect -> new Fixed(redirect.status(),
                    Headers.of("location", redirect.location()).asReadOnly(), new byte[0]);
            case SiteConfig.Respond respond -> new Fixed(respond.status(),
                    Headers.of("content-type", respond.contentType()).asReadOnly(),
                    respond.body().getBytes(StandardCharsets.UTF_8));
        };
    }

    /**
     * The upstream pools of the routes, by their key path ({@code sites[0].routes[1]}): the worker binds their meters
     * (the {@code pool} label) and starts their health checks.
     */
    public Map<String, ProxyService> pools() {
        return Collections.unmodifiableMap(pools);
    }

    /** How many sites and routes: for the worker's start-up line. */
    public String describe() {
        return siteCount + (siteCount == 1 ? " site, " : " sites, ") + routeCount
                + (routeCount == 1 ? " route" : " routes");
    }

    /** A fixed response: {@code redirect} and {@code respond}. */
    private record Fixed(int status, Headers headers, byte[] body) implements Service {

        @Override
        public void serve(HttpExchange exchange) {
            exchange.respond(status, headers, body.length == 0 ? Unpooled.EMPTY_BUFFER
                    : exchange.alloc().buffer(body.length).writeBytes(body));
        }
    }

    /** Calls {@code visitor} with each route and its key path ({@code sites[0].routes[1]}). */
    private static void forEachRoute(SiteConfig config, BiConsumer<Route, String> visitor) {
        for (int i = 0; i < config.sites().size(); i++) {
            List<Route> routes = config.sites().get(i).routes();
            for (int j = 0; j < routes.size(); j++) {
                visitor.accept(routes.get(j), "sites[" + i + "].routes[" + j + "]");
            }
        }
    }
}
