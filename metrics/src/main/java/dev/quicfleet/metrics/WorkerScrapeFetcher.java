package dev.quicfleet.metrics;

import java.util.concurrent.CompletableFuture;

/**
 * Fetches one worker's exposition for {@link ClusterScrape}: over HTTP on loopback, a unix socket, or anything else
 * the supervisor has. The worker side is {@link WorkerMetrics#scrape(String)} with {@link #ACCEPT}.
 *
 * <pre>{@code
 * HttpClient http = HttpClient.newHttpClient();
 * WorkerScrapeFetcher fetcher = slot -> http.sendAsync(
 *                 HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metricsPort(slot) + "/metrics"))
 *                         .header("Accept", WorkerScrapeFetcher.ACCEPT).build(),
 *                 HttpResponse.BodyHandlers.ofString())
 *         .thenApply(response -> {
 *             if (response.statusCode() != 200) {
 *                 throw new IllegalStateException("worker " + slot + ": HTTP " + response.statusCode());
 *             }
 *             return response.body();
 *         });
 * }</pre>
 */
@FunctionalInterface
public interface WorkerScrapeFetcher {

    /** The {@code Accept} header to fetch with: {@link ClusterScrape} reads the Prometheus text format 0.0.4. */
    String ACCEPT = "text/plain; version=0.0.4";

    /**
     * Starts fetching the exposition of the worker in {@code slot}, in the Prometheus text format 0.0.4.
     *
     * <p>Must not block: return at once and complete the future when the body is in. A failed future, or one still
     * running at the scrape deadline, means the worker contributes nothing to that scrape. At the deadline the
     * future is {@linkplain CompletableFuture#cancel(boolean) cancelled}, so an implementation can abort its request
     * there (the JDK {@code HttpClient}'s futures do).
     *
     * @param slot the worker slot
     * @return the exposition text
     */
    CompletableFuture<String> fetch(int slot);
}
