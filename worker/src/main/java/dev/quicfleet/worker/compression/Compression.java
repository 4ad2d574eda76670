package dev.quicfleet.worker.compression;

import com.aayushatharva.brotli4j.encoder.Encoder;
import dev.quicfleet.http.Headers;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelHandler;
import io.netty.handler.codec.compression.Brotli;
import io.netty.handler.codec.compression.BrotliEncoder;
import io.netty.handler.codec.compression.JdkZlibEncoder;
import io.netty.handler.codec.compression.ZlibWrapper;
import io.netty.handler.codec.compression.Zstd;
import io.netty.handler.codec.compression.ZstdEncoder;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which responses are compressed, and how: for every response whose body may be compressed, the worker asks
 * {@link #choose}; a coding means the body goes through a {@link ResponseEncoder} and the headers change
 * ({@link #apply}). Unlike Netty's {@code HttpContentCompressor} (any content type, no {@code Vary}, br over a
 * higher-ranked gzip), this follows the client's q-values, prefers zstd over br over gzip only at equal q, compresses
 * only the types in {@link #TYPES} from {@link CompressionConfig#minLength()} bytes on (Caddy's 512 by default), and
 * never touches a response that already has a {@code Content-Encoding}, a partial (206) response, or one marked
 * {@code Cache-Control: no-transform}. {@code Vary: Accept-Encoding} goes on every response that could have been
 * compressed, whether or not this client asked, so caches keep the variants apart.
 */
public final class Compression {

    private static final Logger log = LoggerFactory.getLogger(Compression.class);

    /**
     * Media types worth compressing (text and text-like; images, audio, video and archives are compressed already):
     * a type matches an entry exactly, or a {@code prefix/} entry by its top-level type.
     */
    static final List<String> TYPES = List.of("text/", "application/json", "application/javascript",
            "application/x-javascript", "application/ecmascript", "application/xml", "application/xhtml+xml",
            "application/rss+xml", "application/atom+xml", "application/ld+json", "application/manifest+json",
            "application/geo+json", "application/problem+json", "application/wasm", "application/x-ndjson",
            "application/graphql-response+json", "image/svg+xml", "image/x-icon", "image/bmp", "font/ttf", "font/otf",
            "application/vnd.ms-fontobject");

    private final CompressionConfig config;
    private final Set<ContentCoding> available;

    public Compression(CompressionConfig config) {
        this.config = config;
        Set<ContentCoding> codings = EnumSet.noneOf(ContentCoding.class);
        codings.add(ContentCoding.GZIP);
        if (Zstd.isAvailable()) {
            codings.add(ContentCoding.ZSTD);
        } else {
            log.warn("zstd compression unavailable on this platform ({}): responses use br or gzip",
                    Zstd.cause() == null ? "no native library" : Zstd.cause().toString());
        }
        if (Brotli.isAvailable()) {
            codings.add(ContentCoding.BROTLI);
        } else {
            log.warn("brotli compression unavailable on this platform ({}): responses use zstd or gzip",
                    Brotli.cause() == null ? "no native library" : Brotli.cause().toString());
        }
        this.available = codings;
    }

    /**
     * Whether a response with these headers could be compressed at all (then it carries {@code Vary:
     * Accept-Encoding}): a compressible type, big enough or of unknown length, not encoded, not a range, not
     * {@code no-transform}.
     */
    public boolean eligible(int status, Headers response) {
        // the type first: most responses that are not compressed (images, binaries) stop here, at one lookup
        if (!compressibleType(response.get("content-type"))) {
            return false;
        }
        if (status == 206 || status == 204 || status == 304 || status < 200) {
            return false;
        }
        if (response.contains("content-encoding")) {
            return false;
        }
        String length = response.get("content-length");
        if (length != null) {
            try {
                if (Long.parseLong(length.trim()) < config.minLength()) {
                    return false;
                }
            } catch (NumberFormatException e) {
                return false;
            }
        }
        String cacheControl = response.get("cache-control");
        return cacheControl == null || !cacheControl.toLowerCase(Locale.ROOT).contains("no-transform");
    }

    /** The coding for a client that sent {@code acceptEncoding} ({@code null}: none), or {@code null} for none. */
    public ContentCoding choose(String acceptEncoding) {
        return negotiate(acceptEncoding, available);
    }

    /**
     * Marks {@code response} as compressed with {@code coding}: {@code Content-Encoding}, no {@code Content-Length}
     * (the compressed length is not known up front) and no {@code Accept-Ranges}, and a strong {@code ETag} made weak
     * (the bytes differ from the identity representation's; a conditional request still matches by weak comparison).
     */
    public static void apply(Headers response, ContentCoding coding) {
        response.set("content-encoding", coding.token());
        response.remove("content-length");
        response.remove("accept-ranges");
        String etag = response.get("etag");
        if (etag != null && etag.startsWith("\"")) {
            response.set("etag", "W/" + etag);
        }
    }

    /** Adds {@code accept-encoding} to {@code Vary} unless it is there (or {@code *} is). */
    public static void vary(Headers response) {
        String vary = response.get("vary");
        if (vary == null || vary.isBlank()) {
            response.set("vary", "accept-encoding");
            return;
        }
        for (String field : vary.split(",")) {
            String name = field.trim();
            if (name.equals("*") || name.equalsIgnoreCase("accept-encoding")) {
                return;
            }
        }
        response.set("vary", vary + ", accept-encoding");
    }

    /** An encoder for one response body. */
    public ResponseEncoder encoder(ContentCoding coding, ByteBufAllocator alloc) {
        return new ResponseEncoder(coding, newEncoder(coding), alloc);
    }

    private ChannelHandler newEncoder(ContentCoding coding) {
        return switch (coding) {
            case GZIP -> new JdkZlibEncoder(ZlibWrapper.GZIP, config.gzipLevel());
            case BROTLI -> new BrotliEncoder(new Encoder.Parameters().setQuality(config.brotliQuality())
                    .setWindow(22).setMode(Encoder.Mode.TEXT));
            case ZSTD -> new ZstdEncoder(config.zstdLevel(), 64 * 1024, 4 * 1024 * 1024);
        };
    }

    /** Whether responses of {@code contentType} are worth compressing (see {@link #TYPES}). */
    public static boolean compressibleType(String contentType) {
        if (contentType == null) {
            return false;
        }
        Boolean known = TYPE_CACHE.get(contentType); // a server sends few distinct types: decided once each
        if (known != null) {
            return known;
        }
        int semicolon = contentType.indexOf(';');
        String type = (semicolon < 0 ? contentType : contentType.substring(0, semicolon)).trim()
                .toLowerCase(Locale.ROOT);
        boolean compressible = false;
        for (String entry : TYPES) {
            if (entry.endsWith("/") ? type.startsWith(entry) : type.equals(entry)) {
                compressible = true;
                break;
            }
        }
        if (TYPE_CACHE.size() < TYPE_CACHE_SIZE) {
            TYPE_CACHE.put(contentType, compressible);
        }
        return compressible;
    }

    private static final int TYPE_CACHE_SIZE = 256;
    private static final Map<String, Boolean> TYPE_CACHE = new ConcurrentHashMap<>();

    /**
     * RFC 9110 §12.5.3: the coding with the highest q-value the client accepts (q=0 refuses it; {@code *} stands for
     * codings not named; no header means nothing is compressed, as every server does); at equal q the server's order,
     * zstd > br > gzip. {@code identity} is never refused here: the worker can always send the body as it is.
     */
    public static ContentCoding negotiate(String acceptEncoding, Set<ContentCoding> available) {
        if (acceptEncoding == null || acceptEncoding.isBlank()) {
            return null;
        }
        double[] q = new double[ContentCoding.values().length];
        boolean[] named = new boolean[q.length];
        double star = -1;
        for (String element : acceptEncoding.split(",")) {
            String[] parts = element.split(";");
            if (parts.length == 0) {
                continue; // ";;": nothing named
            }
            String token = parts[0].trim().toLowerCase(Locale.ROOT);
            double weight = 1.0;
            for (int i = 1; i < parts.length; i++) {
                String param = parts[i].trim();
                if (param.length() > 2 && (param.charAt(0) == 'q' || param.charAt(0) == 'Q') && param.charAt(1) == '=') {
                    try {
                        weight = Double.parseDouble(param.substring(2).trim());
                    } catch (NumberFormatException e) {
                        weight = 0; // a malformed weight accepts nothing
                    }
                }
            }
            if (!(weight >= 0 && weight <= 1)) {
                weight = 0;
            }
            if (token.equals("*")) {
                star = weight;
                continue;
            }
            if (token.equals("x-gzip")) {
                token = "gzip";
            }
            for (ContentCoding coding : ContentCoding.values()) {
                if (coding.token().equals(token)) {
                    q[coding.ordinal()] = Math.max(named[coding.ordinal()] ? q[coding.ordinal()] : 0, weight);
                    named[coding.ordinal()] = true;
                }
            }
        }
        ContentCoding best = null;
        double bestQ = 0;
        for (ContentCoding coding : ContentCoding.values()) { // in the server's order: the first of equals wins
            double weight = named[coding.ordinal()] ? q[coding.ordinal()] : Math.max(star, 0);
            if (available.contains(coding) && weight > bestQ) {
                best = coding;
                bestQ = weight;
            }
        }
        return best;
    }
}
