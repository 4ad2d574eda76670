package dev.quicfleet.http;

/** The HTTP version an exchange arrived on, named by its ALPN identifier. */
public enum Protocol {
    /** HTTP/3 over QUIC (UDP). */
    H3("h3"),
    /** HTTP/2 over TLS (TCP). */
    H2("h2"),
    /** HTTP/1.1 over TLS (TCP). */
    HTTP_1_1("http/1.1");

    private final String alpn;

    Protocol(String alpn) {
        this.alpn = alpn;
    }

    /** The ALPN protocol id: {@code h3}, {@code h2} or {@code http/1.1}. */
    public String alpn() {
        return alpn;
    }

    @Override
    public String toString() {
        return alpn;
    }
}
