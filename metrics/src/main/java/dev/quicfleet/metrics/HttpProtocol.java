package dev.quicfleet.metrics;

/** The HTTP version a request arrived on: the values of the {@value MeterNames#PROTOCOL} tag. */
public enum HttpProtocol {
    /** HTTP/3 over QUIC. */
    H3("h3"),
    /** HTTP/2 over TLS. */
    H2("h2"),
    /** HTTP/1.1 over TLS. */
    HTTP_1_1("http/1.1");

    private final String tagValue;

    HttpProtocol(String tagValue) {
        this.tagValue = tagValue;
    }

    /** The tag value, which is also the ALPN protocol id: {@code h3}, {@code h2} or {@code http/1.1}. */
    public String tagValue() {
        return tagValue;
    }
}
