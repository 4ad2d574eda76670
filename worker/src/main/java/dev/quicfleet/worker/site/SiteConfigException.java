package dev.quicfleet.worker.site;

/**
 * A bad site configuration: the message is one line that names the key path ({@code sites[0].routes[1].upstream}),
 * the bad value and what is expected. The worker prints it after {@code error: } and exits with code 2.
 */
public final class SiteConfigException extends IllegalArgumentException {

    public SiteConfigException(String message) {
        super(message);
    }
}
