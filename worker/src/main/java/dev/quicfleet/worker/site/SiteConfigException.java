package dev.quicfleet.worker.site;

/**
 * A bad site configuration: the message is one line that names the key path ({@code sites[0].routes[1].upstream}),
 * the bad value and what is expected. The worker prints it after {@code error: } and exits with code 2.
 */
public final class SiteConfigException extends IllegalArgumentException {

    /** {@code message}, with control characters of quoted values escaped ({@code \n}) so it stays one line. */
    public SiteConfigException(String message) {
        super(oneLine(message));
    }

    private static String oneLine(String message) {
        StringBuilder line = new StringBuilder(message.length());
        for (int i = 0; i < message.length(); i++) {
            char c = message.charAt(i);
            switch (c) {
                case '\n' -> line.append("\\n");
                case '\r' -> line.append("\\r");
                case '\t' -> line.append("\\t");
                default -> {
                    if (c < ' ' || c == 0x7f || c == '\u2028' || c == '\u2029' || c == '\u0085') {
                        line.append(String.format("\\u%04x", (int) c));
                    } else {
                        line.append(c);
                    }
                }
            }
        }
        return line.toString();
    }
}
