/**
 * The site configuration file ({@code --config FILE}, key {@code sites}): hosts, their routes, and what each route
 * serves. {@link dev.quicfleet.worker.site.SiteConfigParser} reads the YAML tree into the immutable
 * {@link dev.quicfleet.worker.site.SiteConfig}, naming the key path of the first bad value;
 * {@link dev.quicfleet.worker.site.SiteRoutes} turns it into the services of a {@link dev.quicfleet.http.Router},
 * loading users' handlers from their jars ({@link dev.quicfleet.worker.site.AppLoader}). docs/CONFIG.md describes the
 * file.
 */
package dev.quicfleet.worker.site;
