package dev.quicfleet.worker.site;

import dev.quicfleet.proxy.ProxyConfig;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * The sites of a configuration file, in file order: which hosts each serves and what each of its routes answers.
 * Immutable; {@link SiteConfigParser} builds it and checks every value, the records only guard against nulls.
 *
 * @param sites at least one; at most one of them is the {@linkplain Site#isDefault() default site}
 */
public record SiteConfig(List<Site> sites) {

    public SiteConfig {
        sites = List.copyOf(sites);
    }

    /** The default site (for hosts no other site names), or {@code null}. */
    public Site defaultSite() {
        for (Site site : sites) {
            if (site.isDefault()) {
                return site;
            }
        }
        return null;
    }

    /**
     * One site.
     *
     * @param hosts     exact host names ({@code example.com}) and wildcards ({@code *.example.com}), lower case; empty
     *                  for the default site
     * @param isDefault whether this site serves every host no other site names
     * @param routes    its routes, in file order (the longest matching path prefix wins, whatever the order)
     */
    public record Site(List<String> hosts, boolean isDefault, List<Route> routes) {

        public Site {
            hosts = List.copyOf(hosts);
            routes = List.copyOf(routes);
        }
    }

    /**
     * One route: requests whose path is below {@code path} get {@code action}.
     *
     * @param path   a path prefix starting with {@code /} (whole segments match, as in {@link dev.quicfleet.http.Router})
     * @param action what answers
     */
    public record Route(String path, Action action) {

        public Route {
            Objects.requireNonNull(path, "path");
            Objects.requireNonNull(action, "action");
        }
    }

    /** What a route does: exactly one of these per route. */
    public sealed interface Action permits Upstream, Static, App, Redirect, Respond {
    }

    /** Proxies to a pool of HTTP/1.1 upstreams. */
    public record Upstream(ProxyConfig proxy) implements Action {

        public Upstream {
            Objects.requireNonNull(proxy, "proxy");
        }
    }

    /** Serves the files below {@code dir} (an existing directory, absolute). */
    public record Static(Path dir) implements Action {

        public Static {
            Objects.requireNonNull(dir, "dir");
        }
    }

    /**
     * Runs a user's {@code Handler} or {@code Service}, class {@code className} from {@code jar} (an existing file,
     * absolute), loaded by every worker in a class loader of its own; {@code className} {@code null}: the one class the
     * jar names as a provider in {@code META-INF/services/dev.quicfleet.http.Handler} (or {@code .Service}).
     */
    public record App(Path jar, String className) implements Action {

        public App {
            Objects.requireNonNull(jar, "jar");
        }
    }

    /** Answers {@code status} (301, 302, 303, 307 or 308) with {@code location}. */
    public record Redirect(int status, String location) implements Action {

        public Redirect {
            Objects.requireNonNull(location, "location");
        }
    }

    /** Answers {@code status} with a fixed {@code body} of type {@code contentType}. */
    public record Respond(int status, String body, String contentType) implements Action {

        public Respond {
            Objects.requireNonNull(body, "body");
            Objects.requireNonNull(contentType, "contentType");
        }
    }
}
