package dev.quicfleet.worker.services;

import java.util.Locale;
import java.util.Map;

/**
 * The {@code content-type} for a file name, from a built-in table of the types a web site serves.
 *
 * <p>A fixed table rather than {@link java.nio.file.Files#probeContentType}: the platform's answer depends on the
 * host's MIME database, and a fleet must send the same type from every machine. Text types carry
 * {@code charset=utf-8} so that browsers do not guess the encoding.
 */
final class MediaTypes {

    /** For names without a known extension: tells browsers not to render or sniff the content. */
    private static final String OCTET_STREAM = "application/octet-stream";

    private static final String UTF_8 = "; charset=utf-8";

    private static final Map<String, String> BY_EXTENSION = Map.ofEntries(
            Map.entry("html", "text/html" + UTF_8),
            Map.entry("htm", "text/html" + UTF_8),
            Map.entry("css", "text/css" + UTF_8),
            Map.entry("js", "text/javascript" + UTF_8),
            Map.entry("mjs", "text/javascript" + UTF_8),
            Map.entry("txt", "text/plain" + UTF_8),
            Map.entry("csv", "text/csv" + UTF_8),
            Map.entry("json", "application/json"),
            Map.entry("map", "application/json"),
            Map.entry("xml", "application/xml"),
            Map.entry("svg", "image/svg+xml"),
            Map.entry("png", "image/png"),
            Map.entry("jpg", "image/jpeg"),
            Map.entry("jpeg", "image/jpeg"),
            Map.entry("gif", "image/gif"),
            Map.entry("webp", "image/webp"),
            Map.entry("avif", "image/avif"),
            Map.entry("ico", "image/vnd.microsoft.icon"),
            Map.entry("wasm", "application/wasm"),
            Map.entry("pdf", "application/pdf"),
            Map.entry("woff", "font/woff"),
            Map.entry("woff2", "font/woff2"),
            Map.entry("mp4", "video/mp4"),
            Map.entry("webm", "video/webm"),
            Map.entry("mp3", "audio/mpeg"),
            Map.entry("zip", "application/zip"),
            Map.entry("gz", "application/gzip"));

    private MediaTypes() {
    }

    /**
     * The type for {@code fileName} by its last extension, case-insensitively ({@code app.min.JS} is JavaScript);
     * {@code application/octet-stream} when there is none or it is unknown. A {@code .gz} file is sent as gzip
     * data, not as the compressed type with {@code content-encoding}.
     */
    static String forFileName(String fileName) {
        int dot = fileName.lastIndexOf('.');
        if (dot < 0) {
            return OCTET_STREAM;
        }
        String type = BY_EXTENSION.get(fileName.substring(dot + 1).toLowerCase(Locale.ROOT));
        return type != null ? type : OCTET_STREAM;
    }
}
