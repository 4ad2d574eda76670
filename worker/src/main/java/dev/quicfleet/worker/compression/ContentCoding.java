package dev.quicfleet.worker.compression;

/** The content codings the worker compresses responses with, in its order of preference at equal q-values. */
public enum ContentCoding {
    ZSTD("zstd", ".zst"),
    BROTLI("br", ".br"),
    GZIP("gzip", ".gz");

    private final String token;
    private final String fileSuffix;

    ContentCoding(String token, String fileSuffix) {
        this.token = token;
        this.fileSuffix = fileSuffix;
    }

    /** The suffix of a file precompressed with this coding ({@code a.css.zst}, {@code .br}, {@code .gz}). */
    public String fileSuffix() {
        return fileSuffix;
    }

    /** The coding's name in {@code Accept-Encoding} and {@code Content-Encoding}. */
    public String token() {
        return token;
    }
}
