package dev.quicfleet.proxy;

import dev.quicfleet.http.Headers;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The header fields a hop changes. Hop-by-hop fields (RFC 9110 §7.6.1: {@code Connection}, {@code Keep-Alive},
 * {@code Proxy-Connection}, {@code TE} but its {@code trailers}, {@code Transfer-Encoding}, {@code Upgrade}, and every
 * field the {@code Connection} header names) never cross the proxy in either direction; the upstream's
 * {@code Alt-Svc} does not reach the client (it names the upstream's own endpoints, and the worker advertises its
 * own); the request gains {@code X-Forwarded-For} (the client's address), {@code X-Forwarded-Proto}
 * ({@code https}), {@code X-Forwarded-Host}, optionally RFC 7239 {@code Forwarded} and {@code Via}, and, for a request
 * that arrived in 0-RTT early data, {@code Early-Data: 1} (RFC 8470 §5.1).
 *
 * <p>Trust: the client's own {@code X-Forwarded-For}, {@code -Proto}, {@code -Host} and {@code Forwarded} are kept
 * (and appended to) only when its address is in {@code --trusted-proxies} (a balancer or CDN in front of this one);
 * from anyone else they are dropped and replaced, or the application would believe whatever address a client wrote.
 */
final class ForwardedHeaders {

    private ForwardedHeaders() {
    }

    /** What the request's body framing toward the upstream is. */
    enum Framing {
        /** No body: no {@code content-length}, unless the method expects a body ({@code content-length: 0}). */
        NONE,
        /** {@code content-length} of the client's request. */
        LENGTH,
        /** {@code transfer-encoding: chunked}: a body of unknown length. */
        CHUNKED
    }

    /**
     * What this hop says about itself.
     *
     * @param trusted   the client's address is a trusted proxy: its forwarding fields are kept and appended to
     * @param forwarded add an RFC 7239 {@code Forwarded} element
     * @param via       the {@code Via} entry to append ({@code 3 quicfleet}), or {@code null} for none
     */
    record Hop(boolean trusted, boolean forwarded, String via) {
        /** Nobody trusted, only the {@code X-Forwarded-*} fields. */
        static final Hop PLAIN = new Hop(false, false, null);
    }

    /**
     * Fills {@code out} with the fields to send upstream for a request with {@code in} (the client's fields, names in
     * lower case).
     *
     * @param authority     the client's {@code :authority} or {@code Host}, sent as {@code Host}; when empty,
     *                      {@code upstreamHost}
     * @param client        the client's address, appended to {@code X-Forwarded-For}; {@code null} when unknown
     * @param hop           trust in the client's forwarding fields, and which of the optional ones to add
     * @param earlyData     the request arrived in TLS early data: {@code Early-Data: 1}
     * @param contentLength the client's declared length, used with {@link Framing#LENGTH}
     */
    static void request(Headers in, String method, String authority, String upstreamHost, InetSocketAddress client,
                        Hop hop, boolean earlyData, Framing framing, long contentLength, HttpHeaders out) {
        List<String> named = connectionTokens(in.getAll("connection"));
        boolean trailers = false;
        boolean trusted = hop.trusted();
        StringBuilder forwardedFor = null;
        StringBuilder forwarded = null;
        StringBuilder via = null;
        String proto = null;
        String forwardedHost = null;
        StringBuilder cookie = null;
        for (Map.Entry<String, String> field : in) {
            String name = field.getKey();
            String value = field.getValue();
            switch (name) {
                case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host",
                     "content-length", "expect" -> {
                    // hop-by-hop, or set below; "expect: 100-continue" is answered by this hop, not the upstream
                }
                case "te" -> trailers |= hasToken(value, "trailers");
                case "x-forwarded-for" -> {
                    if (trusted && !named.contains(name)) {
                        forwardedFor = append(forwardedFor, value, ", ");
                    }
                }
                case "forwarded" -> {
                    if (trusted && !named.contains(name)) {
                        forwarded = append(forwarded, value, ", ");
                    }
                }
                case "x-forwarded-proto" -> {
                    if (trusted && proto == null && !named.contains(name)) {
                        proto = value;
                    }
                }
                case "x-forwarded-host" -> {
                    if (trusted && forwardedHost == null && !named.contains(name)) {
                        forwardedHost = value;
                    }
                }
                case "via" -> {
                    if (!named.contains(name)) {
                        via = append(via, value, ", ");
                    }
                }
                case "cookie" -> cookie = append(cookie, value, "; "); // RFC 9113 §8.2.3: one field for HTTP/1.1
                default -> {
                    if (!named.contains(name)) {
                        out.add(name, value);
                    }
                }
            }
        }
        out.set("host", authority == null || authority.isEmpty() ? upstreamHost : authority);
        if (cookie != null && !named.contains("cookie")) {
            out.set("cookie", cookie.toString());
        }
        if (trailers) {
            out.set("te", "trailers");
        }
        if (client != null) {
            forwardedFor = append(forwardedFor, client.getAddress().getHostAddress(), ", ");
        }
        if (forwardedFor != null) {
            out.set("x-forwarded-for", forwardedFor.toString());
        }
        out.set("x-forwarded-proto", proto != null ? proto : "https");
        if (forwardedHost != null) {
            out.set("x-forwarded-host", forwardedHost);
        } else if (authority != null && !authority.isEmpty()) {
            out.set("x-forwarded-host", authority);
        }
        if (hop.forwarded()) {
            forwarded = append(forwarded, forwardedElement(client, authority), ", ");
        }
        if (forwarded != null) {
            out.set("forwarded", forwarded.toString());
        }
        if (hop.via() != null) {
            via = append(via, hop.via(), ", ");
        }
        if (via != null) {
            out.set("via", via.toString());
        }
        if (earlyData && !out.contains("early-data")) {
            out.set("early-data", "1");
        }
        switch (framing) {
            case LENGTH -> out.set("content-length", Long.toString(contentLength));
            case CHUNKED -> out.set("transfer-encoding", "chunked");
            case NONE -> {
                if (method.equals("POST") || method.equals("PUT") || method.equals("PATCH")) {
                    out.set("content-length", "0"); // what a body-expecting upstream wants to see for "empty"
                }
            }
        }
    }

    /**
     * This hop's RFC 7239 element: {@code for=192.0.2.10;host="example.com:443";proto=https}. An IPv6 node is
     * bracketed and quoted (§6), an unknown client is {@code unknown}, a host that is not a token is quoted.
     */
    static String forwardedElement(InetSocketAddress client, String authority) {
        StringBuilder element = new StringBuilder("for=");
        if (client == null || client.getAddress() == null) {
            element.append("unknown");
        } else if (client.getAddress() instanceof Inet6Address) {
            element.append("\"[").append(client.getAddress().getHostAddress()).append("]\"");
        } else {
            element.append(client.getAddress().getHostAddress());
        }
        if (authority != null && !authority.isEmpty()) {
            element.append(";host=").append(tokenOrQuoted(authority));
        }
        return element.append(";proto=https").toString();
    }

    private static String tokenOrQuoted(String value) {
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            boolean tchar = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
                    || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
            if (!tchar) {
                return "\"" + value.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
            }
        }
        return value;
    }

    /** The upstream's response fields as the client gets them. */
    static Headers response(HttpHeaders in) {
        List<String> named = connectionTokens(in.getAll(HttpHeaderNames.CONNECTION));
        boolean chunked = in.contains(HttpHeaderNames.TRANSFER_ENCODING);
        Headers out = new Headers();
        for (Map.Entry<String, String> field : in) {
            String name = field.getKey().toLowerCase(Locale.ROOT);
            switch (name) {
                case "connection", "keep-alive", "proxy-connection", "te", "transfer-encoding", "upgrade",
                     "alt-svc" -> {
                    // hop-by-hop, or about the upstream's own endpoints
                }
                case "content-length" -> {
                    if (!chunked && !named.contains(name)) {
                        out.add(name, field.getValue());
                    }
                }
                default -> {
                    if (!named.contains(name)) {
                        out.add(name, field.getValue());
                    }
                }
            }
        }
        return out;
    }

    /** The upstream's trailer fields as the client gets them (fields that frame or route a message dropped). */
    static Headers trailers(HttpHeaders in) {
        Headers out = new Headers();
        for (Map.Entry<String, String> field : in) {
            String name = field.getKey().toLowerCase(Locale.ROOT);
            switch (name) {
                case "connection", "keep-alive", "proxy-connection", "te", "transfer-encoding", "upgrade",
                     "content-length", "host", "trailer" -> {
                }
                default -> out.add(name, field.getValue());
            }
        }
        return out;
    }

    /** Request trailers the upstream gets (only with a chunked body, the one HTTP/1.1 framing that carries them). */
    static void requestTrailers(Headers in, HttpHeaders out) {
        for (Map.Entry<String, String> field : in) {
            switch (field.getKey()) {
                case "connection", "keep-alive", "proxy-connection", "te", "transfer-encoding", "upgrade",
                     "content-length", "host", "trailer" -> {
                }
                default -> out.add(field.getKey(), field.getValue());
            }
        }
    }

    /** The field names a {@code Connection} header lists, lower case ({@code close} and {@code keep-alive} too). */
    static List<String> connectionTokens(List<String> values) {
        if (values.isEmpty()) {
            return List.of();
        }
        List<String> tokens = new ArrayList<>(4);
        for (String value : values) {
            for (String token : value.split(",")) {
                String name = token.trim().toLowerCase(Locale.ROOT);
                if (!name.isEmpty()) {
                    tokens.add(name);
                }
            }
        }
        return tokens;
    }

    private static boolean hasToken(String value, String token) {
        for (String part : value.split(",")) {
            String t = part.trim();
            int semi = t.indexOf(';');
            if ((semi < 0 ? t : t.substring(0, semi).trim()).equalsIgnoreCase(token)) {
                return true;
            }
        }
        return false;
    }

    private static StringBuilder append(StringBuilder to, String value, String separator) {
        if (to == null) {
            return new StringBuilder(value);
        }
        return to.append(separator).append(value);
    }
}
