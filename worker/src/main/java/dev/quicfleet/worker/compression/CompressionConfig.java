package dev.quicfleet.worker.compression;

/**
 * How responses are compressed.
 *
 * @param enabled       compress at all ({@code --compression on|off})
 * @param gzipLevel     1..9; default 5 (close to 6's size, noticeably cheaper, as Caddy and Cloudflare choose)
 * @param brotliQuality 0..11; default 4 (for responses made on the fly: 5 and above cost several times more CPU)
 * @param zstdLevel     1..22; default 3 (zstd's own default)
 * @param minLength     bodies shorter than this (by {@code Content-Length}) are sent as they are; default 512, Caddy's
 */
public record CompressionConfig(boolean enabled, int gzipLevel, int brotliQuality, int zstdLevel, int minLength) {

    public static final CompressionConfig DEFAULT = new CompressionConfig(true, 5, 4, 3, 512);
    public static final CompressionConfig OFF = new CompressionConfig(false, 5, 4, 3, 512);

    public CompressionConfig {
        check("gzip-level", gzipLevel, 1, 9);
        check("brotli-quality", brotliQuality, 0, 11);
        check("zstd-level", zstdLevel, 1, 22);
        check("compression-min-length", minLength, 0, Integer.MAX_VALUE);
    }

    private static void check(String key, int value, int min, int max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(key + ": " + value + " (expected: " + min + ".." + max + ")");
        }
    }
}
