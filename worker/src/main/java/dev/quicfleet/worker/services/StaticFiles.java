package dev.quicfleet.worker.services;

import dev.quicfleet.http.Handler;
import dev.quicfleet.http.Headers;
import dev.quicfleet.http.HttpExchange;
import dev.quicfleet.http.RequestHead;
import dev.quicfleet.http.Router;
import dev.quicfleet.http.Service;
import dev.quicfleet.worker.compression.Compression;
import dev.quicfleet.worker.compression.ContentCoding;
import dev.quicfleet.worker.protocol.HttpDates;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves the files below a root directory: {@code GET} and {@code HEAD} with validators, conditional requests
 * (RFC 9110 §13) and single byte ranges (RFC 9110 §14), on the event loop: no thread hop.
 *
 * <p>The file is found from {@link RequestHead#routePath()}, so the service can be mounted below any prefix of a
 * {@link Router}. A request maps to a file only if every path segment decodes cleanly and names a visible entry:
 * segments that decode to {@code .}, {@code ..}, a name starting with {@code .} (hidden files such as
 * {@code .env} or {@code .git}), or that contain {@code /}, {@code \}, NUL or another control character get a
 * {@code 404}, as does an empty segment ({@code //}) and anything whose real path, after following symbolic links,
 * lies outside the root's real path. They get 404 rather than 400 so that probing cannot tell a refused path from
 * a missing file; only a malformed percent-escape or invalid UTF-8 gets a {@code 400}.
 *
 * <p>A directory is served by its {@code index.html}; without a trailing slash the client is redirected
 * ({@code 301}) to the path with one, so that relative links in the page resolve below the directory. There are no
 * directory listings.
 *
 * <p>Every 200 and 206 response carries {@code content-type} (from {@link MediaTypes}), {@code content-length},
 * {@code last-modified}, a strong {@code etag} of the form {@code "<size hex>-<mtime millis hex>"} (it changes
 * whenever the size or modification time does, which is what a static file server can know without reading the
 * file) and {@code accept-ranges: bytes}. A {@code HEAD} request does not open the file at all.
 *
 * <p>What a request costs: the resolved real path, the attributes and the formatted validators of each file served
 * are cached per file version (like nginx's {@code open_file_cache}) and checked again once they are older than
 * {@link #REVALIDATE_AFTER}, so a changed file is served within a second; the bytes of files up to
 * {@link #SMALL_FILE} are cached too and go out without a system call. Larger files are read in
 * {@link #CHUNK}-byte chunks into pooled direct buffers, one chunk after another as the client's flow-control window
 * (or the socket buffer) takes them, so memory use does not grow with the file size or a slow client. Reads from
 * the page cache run on the event loop, as nginx reads without {@code aio}; a root on a slow disk is better served
 * by a blocking {@link Handler}.
 *
 * <pre>{@code
 * Router site = Router.builder()
 *         .route("/static", new StaticFiles(Path.of("/srv/www/static")))
 *         .build();
 * }</pre>
 */
public final class StaticFiles implements Service {

    /** How long a cached file version is trusted before its attributes are read again. */
    static final Duration REVALIDATE_AFTER = Duration.ofSeconds(1);
    /** Files up to this size have their bytes cached. */
    static final int SMALL_FILE = 32 * 1024;
    /** Body bytes read and written at a time for larger files. */
    static final int CHUNK = 64 * 1024;
    /** Cached file versions per root at most; beyond it the cache starts over (a bound, not an eviction policy). */
    static final int MAX_ENTRIES = 1024;

    private static final String INDEX = "index.html";
    private static final String ALLOWED_METHODS = "GET, HEAD";
    private static final String TEXT_PLAIN = "text/plain; charset=utf-8";

    private final Path root;
    private final Clock clock;
    private final long revalidateNanos;
    private final LongSupplier nanoTime;
    /** Cached file versions by route path; shared by the worker's event loops. */
    private final Map<String, CachedFile> cache = new ConcurrentHashMap<>();
    /** Precompressed variants looked for and not found, and when: {@code /a.css.br} → nanos (see {@link #variant}). */
    private final Map<String, Long> missing = new ConcurrentHashMap<>();

    /**
     * Serves the files below {@code root}. Symbolic links inside the root are followed as long as their target
     * is below the root's real path as well.
     *
     * @throws IllegalArgumentException when {@code root} does not exist or is not a directory
     */
    public StaticFiles(Path root) {
        this(root, Clock.systemUTC(), REVALIDATE_AFTER, System::nanoTime);
    }

    /**
     * Like {@link #StaticFiles(Path)}, with the clock that bounds {@code last-modified}: a file whose modification
     * time is in the future is announced as modified now (RFC 9110 §8.8.2.1), and a date is only a strong
     * {@code if-range} validator once a second has passed since the modification (§8.8.2.2). Every request reads
     * the file's attributes (nothing is trusted from the cache).
     */
    StaticFiles(Path root, Clock clock) {
        this(root, clock, Duration.ZERO, System::nanoTime);
    }

    /** With how long a cached version is trusted, measured on {@code nanoTime}. */
    StaticFiles(Path root, Clock clock, Duration revalidateAfter, LongSupplier nanoTime) {
        this.root = realDirectory(root);
        this.clock = clock;
        this.revalidateNanos = revalidateAfter.toNanos();
        this.nanoTime = nanoTime;
    }

    /**
     * Answers {@code GET} and {@code HEAD} with the file {@link RequestHead#routePath()} names (see the class
     * description for which paths are served); other methods get {@code 405} with {@code allow: GET, HEAD}.
     * A file that cannot be read after it was found gets a 500, or, once the headers are out (it shrank while being
     * sent), a reset stream.
     */
    @Override
    public void serve(HttpExchange exchange) throws IOException {
        String method = exchange.method();
        boolean head = method.equals("HEAD");
        if (!head && !method.equals("GET")) {
            Headers headers = new Headers();
            headers.add("allow", ALLOWED_METHODS);
            respond(exchange, 405, headers, "method not allowed");
            return;
        }
        String routePath = exchange.routePath();
        CachedFile file = cache.get(routePath);
        long now = nanoTime.getAsLong();
        if (file == null || now - file.checkedNanos >= revalidateNanos) {
            file = lookUp(routePath, file, now);
            if (file == null) {
                return400or404(exchange, routePath);
                return;
            }
        }
        if (file.directory && !exchange.path().endsWith("/")) {
            // The slash is checked on the full path: a router mounting this at /static passes routePath "/" for
            // both "/static" and "/static/", and only the latter makes the page's relative links work.
            redirectToDirectory(exchange);
            return;
        }
        if (!file.directory) {
            String acceptEncoding = exchange.headers().get("accept-encoding");
            if (acceptEncoding != null && !exchange.headers().contains("range")
                    && Compression.compressibleType(file.contentType)) {
                CachedFile precompressed = precompressed(routePath, file, acceptEncoding, now);
                if (precompressed != null) {
                    serveFile(exchange, head, precompressed);
                    return;
                }
            }
        }
        serveFile(exchange, head, file);
    }

    /**
     * A precompressed sidecar of {@code file} ({@code a.css.zst}, {@code .br}, {@code .gz} beside it, as nginx's
     * {@code gzip_static} and Caddy's {@code precompressed}) in the best coding the client accepts, served as
     * {@code file} with a {@code Content-Encoding}; {@code null} when there is none, or none not older than the file
     * (a stale sidecar is never served). Lookups, found or not, are cached and checked again like files.
     */
    private CachedFile precompressed(String routePath, CachedFile file, String acceptEncoding, long now)
            throws IOException {
        Set<ContentCoding> present = EnumSet.noneOf(ContentCoding.class);
        CachedFile[] variants = new CachedFile[ContentCoding.values().length];
        for (ContentCoding coding : ContentCoding.values()) {
            CachedFile variant = variant(routePath + coding.fileSuffix(), now);
            if (variant != null && !variant.directory && !variant.modified.isBefore(file.modified)) {
                present.add(coding);
                variants[coding.ordinal()] = variant;
            }
        }
        if (present.isEmpty()) {
            return null;
        }
        ContentCoding coding = Compression.negotiate(acceptEncoding, present);
        return coding == null ? null : variants[coding.ordinal()].asEncoding(file.contentType, coding);
    }

    private CachedFile variant(String routePath, long now) throws IOException {
        Long missedAt = missing.get(routePath);
        if (missedAt != null && now - missedAt < revalidateNanos) {
            return null;
        }
        CachedFile variant = cache.get(routePath);
        if (variant == null || now - variant.checkedNanos >= revalidateNanos) {
            variant = lookUp(routePath, variant, now);
        }
        if (variant == null) {
            if (missing.size() >= MAX_ENTRIES) {
                missing.clear();
            }
            missing.put(routePath, now);
        } else if (missedAt != null) {
            missing.remove(routePath);
        }
        return variant;
    }

    /**
     * Finds the file {@code routePath} names now: the cached version {@code previous} again when the file has not
     * changed (its bytes are kept), a new version when it has, {@code null} when nothing may be served there.
     */
    private CachedFile lookUp(String routePath, CachedFile previous, long now) throws IOException {
        String[] names = decodeSegments(routePath);
        if (names == null) {
            return null;
        }
        Path file = resolve(names);
        if (file == null) {
            cache.remove(routePath);
            return null;
        }
        BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
        String fileName = names[names.length - 1];
        boolean directory = attributes.isDirectory();
        if (directory) {
            file = realPathBelowRoot(file.resolve(INDEX));
            if (file == null) {
                cache.remove(routePath);
                return null;
            }
            attributes = Files.readAttributes(file, BasicFileAttributes.class);
            fileName = INDEX;
        } else if (fileName.isEmpty()) {
            // "/a.txt/": a file is not a directory.
            return null;
        }
        if (!attributes.isRegularFile()) {
            cache.remove(routePath);
            return null;
        }
        long size = attributes.size();
        Instant modified = attributes.lastModifiedTime().toInstant();
        Object key = attributes.fileKey();
        CachedFile version;
        if (previous != null && previous.size == size && previous.modified.equals(modified)
                && Objects.equals(previous.fileKey, key) && previous.path.equals(file)
                && previous.directory == directory) {
            version = previous.checkedAt(now, clock.instant());
        } else {
            version = CachedFile.of(file, fileName, directory, size, modified, key, clock.instant(), now);
        }
        if (cache.size() >= MAX_ENTRIES && !cache.containsKey(routePath)) {
            cache.clear();
        }
        cache.put(routePath, version);
        return version;
    }

    private void serveFile(HttpExchange exchange, boolean head, CachedFile file) throws IOException {
        Headers requestHeaders = exchange.headers();
        Headers headers = new Headers();
        int precondition = requestHeaders.isEmpty() ? 200
                : evaluatePreconditions(requestHeaders, file.etag, file.lastModified);
        if (precondition == 412) {
            respond(exchange, 412, headers, "precondition failed");
            return;
        }
        headers.add("etag", file.etag);
        headers.add("last-modified", file.lastModifiedText);
        if (precondition == 304) {
            exchange.head(304, headers);
            return;
        }

        // Range handling is defined for GET only (RFC 9110 §14.2); HEAD gets the headers of the full GET.
        long size = file.size;
        ByteRange range = head || requestHeaders.isEmpty() || file.encoding != null ? null
                : requestedRange(requestHeaders, file.etag, file.lastModified, clock.instant(), size);
        if (range == ByteRange.UNSATISFIABLE) {
            headers.add("content-range", "bytes */" + size);
            respond(exchange, 416, headers, "range not satisfiable");
            return;
        }
        long offset = range != null ? range.first() : 0;
        long length = range != null ? range.length() : size;
        headers.add("content-type", file.contentType);
        headers.add("content-length", Long.toString(length));
        if (file.encoding != null) {
            headers.add("content-encoding", file.encoding.token());
            headers.add("vary", "accept-encoding");
        } else {
            headers.add("accept-ranges", "bytes");
        }
        int status = 200;
        if (range != null) {
            headers.add("content-range", range.contentRange(size));
            status = 206;
        }
        if (head || length == 0) {
            exchange.head(status, headers);
            if (!head) {
                exchange.end();
            }
            return;
        }
        ByteBuffer content = file.content;
        if (content != null) {
            // Cached bytes: HEADERS, DATA and the end of the stream in one flush, no system call.
            exchange.head(status, headers);
            exchange.write(Unpooled.wrappedBuffer(content.slice((int) offset, (int) length)), true);
            return;
        }
        FileChannel channel = FileChannel.open(file.path, StandardOpenOption.READ);
        exchange.head(status, headers);
        new FileBody(exchange, channel, file.path, offset, length).run();
    }

    /**
     * RFC 9110 §13.2.2 steps 1–4 for a GET or HEAD: {@code 412} when {@code if-match} or (without it)
     * {@code if-unmodified-since} fails, {@code 304} when {@code if-none-match} or (without it)
     * {@code if-modified-since} says the client's copy is current, otherwise {@code 200}.
     */
    private static int evaluatePreconditions(Headers headers, String etag, Instant lastModified) {
        List<String> ifMatch = headers.getAll("if-match");
        if (!ifMatch.isEmpty()) {
            if (!anyTagMatches(ifMatch, etag, false)) {
                return 412;
            }
        } else {
            Instant ifUnmodifiedSince = singleDate(headers, "if-unmodified-since");
            if (ifUnmodifiedSince != null && lastModified.isAfter(ifUnmodifiedSince)) {
                return 412;
            }
        }
        List<String> ifNoneMatch = headers.getAll("if-none-match");
        if (!ifNoneMatch.isEmpty()) {
            if (anyTagMatches(ifNoneMatch, etag, true)) {
                return 304;
            }
        } else {
            Instant ifModifiedSince = singleDate(headers, "if-modified-since");
            if (ifModifiedSince != null && !lastModified.isAfter(ifModifiedSince)) {
                return 304;
            }
        }
        return 200;
    }

    /**
     * The range to send, {@link ByteRange#UNSATISFIABLE}, or {@code null} for the full representation: when there
     * is no single {@code range} field, when it is invalid or asks for several ranges, or when {@code if-range}
     * names another version (RFC 9110 §13.1.5).
     */
    private static ByteRange requestedRange(Headers headers, String etag, Instant lastModified, Instant now,
                                            long size) {
        List<String> ranges = headers.getAll("range");
        if (ranges.size() != 1) {
            return null;
        }
        List<String> ifRange = headers.getAll("if-range");
        if (!ifRange.isEmpty() && !(ifRange.size() == 1 && ifRangeMatches(ifRange.get(0), etag, lastModified, now))) {
            return null;
        }
        return ByteRange.parse(ranges.get(0), size);
    }

    /**
     * Whether {@code if-range} names the current representation: an entity tag by strong comparison (a weak tag
     * never matches), or exactly the {@code last-modified} date when that date is strong, i.e. at least a second
     * old, so that a second change within the same second cannot go unnoticed.
     */
    private static boolean ifRangeMatches(String value, String etag, Instant lastModified, Instant now) {
        String trimmed = value.strip();
        if (trimmed.startsWith("\"") || trimmed.startsWith("W/")) {
            return trimmed.equals(etag);
        }
        Instant date = HttpDates.parse(trimmed);
        return date != null && date.equals(lastModified) && !lastModified.plusSeconds(1).isAfter(now);
    }

    /**
     * Whether a list of {@code if-match} / {@code if-none-match} field values contains {@code *} or an entity tag
     * equal to {@code etag}: by weak comparison ({@code W/"x"} matches {@code "x"}) or by strong comparison (weak
     * tags never match). A syntax error ends the scan: what came before it still counts, the rest does not.
     */
    private static boolean anyTagMatches(List<String> fieldValues, String etag, boolean weakComparison) {
        for (String field : fieldValues) {
            int i = 0;
            int length = field.length();
            while (i < length) {
                char c = field.charAt(i);
                if (c == ' ' || c == '\t' || c == ',') {
                    i++;
                    continue;
                }
                if (c == '*') {
                    return true;
                }
                boolean weak = field.startsWith("W/", i);
                int open = weak ? i + 2 : i;
                int close = open < length && field.charAt(open) == '"' ? field.indexOf('"', open + 1) : -1;
                if (close < 0) {
                    break;
                }
                int tagLength = close + 1 - open;
                if ((weakComparison || !weak) && tagLength == etag.length()
                        && field.regionMatches(open, etag, 0, tagLength)) {
                    return true;
                }
                i = close + 1;
            }
        }
        return false;
    }

    /** The date in field {@code name}, or {@code null} when it is absent, repeated or not an HTTP-date. */
    private static Instant singleDate(Headers headers, String name) {
        List<String> values = headers.getAll(name);
        return values.size() == 1 ? HttpDates.parse(values.get(0)) : null;
    }

    /**
     * The percent-decoded segments of {@code routePath} (which starts with {@code /}): {@code "/a/b.txt"} gives
     * {@code [a, b.txt]}, {@code "/a/"} gives {@code [a, ""]}. {@code null} when an escape is malformed, a
     * character outside printable ASCII appears unescaped, or the bytes are not UTF-8.
     */
    private static String[] decodeSegments(String routePath) {
        String[] segments = routePath.substring(1).split("/", -1);
        for (int i = 0; i < segments.length; i++) {
            String decoded = decode(segments[i]);
            if (decoded == null) {
                return null;
            }
            segments[i] = decoded;
        }
        return segments;
    }

    private static String decode(String segment) {
        ByteArrayOutputStream bytes = null;
        for (int i = 0; i < segment.length(); i++) {
            char c = segment.charAt(i);
            if (c <= ' ' || c >= 0x7f) {
                return null;
            }
            if (c == '%') {
                if (bytes == null) {
                    bytes = new ByteArrayOutputStream(segment.length());
                    bytes.write(segment.getBytes(StandardCharsets.US_ASCII), 0, i);
                }
                int high = i + 2 < segment.length() ? hexDigit(segment.charAt(i + 1)) : -1;
                int low = high >= 0 ? hexDigit(segment.charAt(i + 2)) : -1;
                if (low < 0) {
                    return null;
                }
                bytes.write(high << 4 | low);
                i += 2;
            } else if (bytes != null) {
                bytes.write(c);
            }
        }
        if (bytes == null) {
            return segment;
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes.toByteArray())).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    /** The value of an ASCII hex digit, or -1 ({@link Character#digit} would also accept non-ASCII digits). */
    private static int hexDigit(char c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return -1;
    }

    /**
     * The real path of the file or directory {@code names} denote below the root, or {@code null} when a name is
     * refused (see the class description), nothing is there, or it lies outside the root.
     */
    private Path resolve(String[] names) {
        Path path = root;
        for (int i = 0; i < names.length; i++) {
            String name = names[i];
            if (name.isEmpty()) {
                // Only the last segment may be empty: "/dir/" asks for the directory; "/a//b" is not a path we
                // hand out, and "//host" would turn into a protocol-relative redirect.
                if (i < names.length - 1) {
                    return null;
                }
                continue;
            }
            if (!isServableName(name)) {
                return null;
            }
            try {
                path = path.resolve(name);
            } catch (InvalidPathException e) {
                return null;
            }
        }
        return realPathBelowRoot(path);
    }

    private static boolean isServableName(String name) {
        if (name.charAt(0) == '.') {
            return false;
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c < ' ' || c == 0x7f || c == '/' || c == '\\') {
                return false;
            }
        }
        return true;
    }

    /**
     * {@code path} with symbolic links resolved, or {@code null} when it does not exist, cannot be resolved, leads
     * outside the root, or passes through a hidden entry (a link {@code latest -> .git} must not expose it).
     */
    private Path realPathBelowRoot(Path path) {
        Path real;
        try {
            real = path.toRealPath();
        } catch (IOException e) {
            // Missing, a file used as a directory, a link loop, no permission: all look like "not found".
            return null;
        }
        if (!real.startsWith(root)) {
            return null;
        }
        for (Path name : root.relativize(real)) {
            if (name.toString().startsWith(".")) {
                return null;
            }
        }
        return real;
    }

    private void return400or404(HttpExchange exchange, String routePath) {
        if (decodeSegments(routePath) == null) {
            respond(exchange, 400, new Headers(), "bad request");
        } else {
            respond(exchange, 404, new Headers(), "not found");
        }
    }

    private static void redirectToDirectory(HttpExchange exchange) {
        String query = exchange.query();
        Headers headers = new Headers();
        headers.set("location", exchange.path() + "/" + (query.isEmpty() ? "" : "?" + query));
        respond(exchange, 301, headers, "moved permanently");
    }

    private static void respond(HttpExchange exchange, int status, Headers headers, String text) {
        headers.add("content-type", TEXT_PLAIN);
        exchange.respond(status, headers, exchange.alloc().buffer(text.length()).writeBytes(
                text.getBytes(StandardCharsets.US_ASCII)));
    }

    /** One version of a served file: where it is, what identifies the version, and the headers that follow. */
    private record CachedFile(Path path, String fileName, boolean directory, long size, Instant modified,
                              Object fileKey, String etag, Instant lastModified, String lastModifiedText,
                              String contentType, ByteBuffer content, long checkedNanos, ContentCoding encoding) {

        static CachedFile of(Path path, String fileName, boolean directory, long size, Instant modified,
                             Object fileKey, Instant now, long nanos) throws IOException {
            String etag = "\"" + Long.toHexString(size) + "-" + Long.toHexString(modified.toEpochMilli()) + "\"";
            Instant lastModified = lastModified(modified, now);
            ByteBuffer content = null;
            if (size <= SMALL_FILE) {
                byte[] bytes = Files.readAllBytes(path);
                if (bytes.length == size) {
                    // A direct buffer the garbage collector frees: responses still sending a slice of an old
                    // version keep it alive, so no reference count is shared between event loops. (A file that
                    // changed between the stat and the read is served from the file this time.)
                    content = ByteBuffer.allocateDirect(bytes.length).put(bytes).flip();
                }
            }
            return new CachedFile(path, fileName, directory, size, modified, fileKey, etag, lastModified,
                    HttpDates.format(lastModified), MediaTypes.forFileName(fileName), content, nanos, null);
        }

        /** This precompressed file served as a file of {@code contentType} in {@code coding}. */
        CachedFile asEncoding(String contentType, ContentCoding coding) {
            return new CachedFile(path, fileName, directory, size, modified, fileKey, etag, lastModified,
                    lastModifiedText, contentType, content, checkedNanos, coding);
        }

        /** This version, checked again at {@code nanos}; {@code last-modified} follows the clock for future times. */
        CachedFile checkedAt(long nanos, Instant now) {
            Instant bounded = lastModified(modified, now);
            return new CachedFile(path, fileName, directory, size, modified, fileKey, etag, bounded,
                    bounded.equals(lastModified) ? lastModifiedText : HttpDates.format(bounded), contentType,
                    content, nanos, encoding);
        }

        private static Instant lastModified(Instant modified, Instant now) {
            return (modified.isAfter(now) ? now : modified).truncatedTo(ChronoUnit.SECONDS);
        }
    }

    /**
     * Streams {@code length} bytes from {@code offset} of a file in chunks, as the exchange takes them. A file that
     * ends early resets the stream: the content-length is already promised, so a short body must reach the client
     * as an error, not as success.
     */
    private static final class FileBody implements Runnable {

        private static final Logger log = LoggerFactory.getLogger(StaticFiles.class);

        private final HttpExchange exchange;
        private final FileChannel channel;
        private final Path path;
        private long position;
        private long remaining;

        FileBody(HttpExchange exchange, FileChannel channel, Path path, long offset, long length) {
            this.exchange = exchange;
            this.channel = channel;
            this.path = path;
            this.position = offset;
            this.remaining = length;
        }

        @Override
        public void run() {
            try {
                while (remaining > 0 && exchange.isOpen()) {
                    if (!exchange.isWritable()) {
                        exchange.onWritable(this);
                        return;
                    }
                    ByteBuf chunk = exchange.alloc().directBuffer((int) Math.min(CHUNK, remaining));
                    int read;
                    try {
                        read = chunk.writeBytes(channel, position, chunk.writableBytes());
                    } catch (IOException | RuntimeException e) {
                        chunk.release();
                        throw e;
                    }
                    if (read < 0) {
                        chunk.release();
                        throw new EOFException(path + ": ended at byte " + position + " with " + remaining
                                + " bytes still to send (expected: the file not to shrink)");
                    }
                    position += read;
                    remaining -= read;
                    exchange.write(chunk, remaining == 0);
                }
            } catch (IOException e) {
                log.warn("static file {} could not be sent: {}; resetting the stream", path, e.toString());
                exchange.abort();
            }
            close();
        }

        private void close() {
            try {
                channel.close();
            } catch (IOException e) {
                log.debug("closing {}: {}", path, e.toString());
            }
        }
    }

    private static Path realDirectory(Path root) {
        if (!Files.exists(root)) {
            throw new IllegalArgumentException("root: " + root + " does not exist (expected: a directory)");
        }
        if (!Files.isDirectory(root)) {
            throw new IllegalArgumentException("root: " + root + " is not a directory (expected: a directory)");
        }
        try {
            return root.toRealPath();
        } catch (IOException e) {
            throw new IllegalArgumentException("root: " + root + " cannot be resolved: " + e
                    + " (expected: a readable directory)", e);
        }
    }
}
