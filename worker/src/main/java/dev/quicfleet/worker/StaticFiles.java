package dev.quicfleet.worker;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;

/**
 * Serves the files below a root directory: {@code GET} and {@code HEAD} with validators, conditional requests
 * (RFC 9110 §13) and single byte ranges (RFC 9110 §14).
 *
 * <p>The file is found from {@link Request#routePath()}, so the handler can be mounted below any prefix of a
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
 * file) and {@code accept-ranges: bytes}. Bodies are streamed from the file in 64 KiB chunks, so memory use does
 * not grow with the file size; a {@code HEAD} request does not open the file at all.
 *
 * <p>The handler does blocking file I/O, which is what handlers are for: each runs on its own virtual thread.
 *
 * <pre>{@code
 * Handler site = Router.builder()
 *         .route("/static", new StaticFiles(Path.of("/srv/www/static")))
 *         .build();
 * }</pre>
 */
public final class StaticFiles implements Handler {

    private static final String INDEX = "index.html";
    private static final String ALLOWED_METHODS = "GET, HEAD";
    private static final String TEXT_PLAIN = "text/plain; charset=utf-8";
    private static final int BUFFER_SIZE = 64 * 1024;

    private final Path root;
    private final Clock clock;

    /**
     * Serves the files below {@code root}. Symbolic links inside the root are followed as long as their target
     * is below the root's real path as well.
     *
     * @throws IllegalArgumentException when {@code root} does not exist or is not a directory
     */
    public StaticFiles(Path root) {
        this(root, Clock.systemUTC());
    }

    /**
     * Like {@link #StaticFiles(Path)}, with the clock that bounds {@code last-modified}: a file whose modification
     * time is in the future is announced as modified now (RFC 9110 §8.8.2.1), and a date is only a strong
     * {@code if-range} validator once a second has passed since the modification (§8.8.2.2).
     */
    StaticFiles(Path root, Clock clock) {
        this.root = realDirectory(root);
        this.clock = clock;
    }

    /**
     * Answers {@code GET} and {@code HEAD} with the file {@link Request#routePath()} names (see the class
     * description for which paths are served); other methods get {@code 405} with {@code allow: GET, HEAD}.
     *
     * @throws IOException when the file cannot be read after it was found, or when it shrinks while being sent;
     *                     the worker then answers 500 or, once the headers are out, resets the stream
     */
    @Override
    public void handle(Request request, Response response) throws IOException {
        String method = request.method();
        boolean head = method.equals("HEAD");
        if (!head && !method.equals("GET")) {
            response.header("allow", ALLOWED_METHODS);
            response.send(405, TEXT_PLAIN, "method not allowed");
            return;
        }
        String[] names = decodeSegments(request.routePath());
        if (names == null) {
            response.send(400, TEXT_PLAIN, "bad request");
            return;
        }
        Path file = resolve(names);
        if (file == null) {
            notFound(response);
            return;
        }
        BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
        String fileName = names[names.length - 1];
        if (attributes.isDirectory()) {
            // The slash is checked on the full path: a router mounting this at /static passes routePath "/" for
            // both "/static" and "/static/", and only the latter makes the page's relative links work.
            if (!request.path().endsWith("/")) {
                redirectToDirectory(request, response);
                return;
            }
            file = realPathBelowRoot(file.resolve(INDEX));
            if (file == null) {
                notFound(response);
                return;
            }
            attributes = Files.readAttributes(file, BasicFileAttributes.class);
            fileName = INDEX;
        } else if (fileName.isEmpty()) {
            // "/a.txt/": a file is not a directory.
            notFound(response);
            return;
        }
        if (!attributes.isRegularFile()) {
            notFound(response);
            return;
        }
        serveFile(request, response, head, file, fileName, attributes);
    }

    private void serveFile(Request request, Response response, boolean head, Path file, String fileName,
                           BasicFileAttributes attributes) throws IOException {
        long size = attributes.size();
        Instant modified = attributes.lastModifiedTime().toInstant();
        Instant now = clock.instant();
        Instant lastModified = (modified.isAfter(now) ? now : modified).truncatedTo(ChronoUnit.SECONDS);
        String etag = "\"" + Long.toHexString(size) + "-" + Long.toHexString(modified.toEpochMilli()) + "\"";

        Headers requestHeaders = request.headers();
        int precondition = evaluatePreconditions(requestHeaders, etag, lastModified);
        if (precondition == 412) {
            response.send(412, TEXT_PLAIN, "precondition failed");
            return;
        }
        response.header("etag", etag);
        response.header("last-modified", HttpDates.format(lastModified));
        if (precondition == 304) {
            response.status(304);
            return;
        }

        // Range handling is defined for GET only (RFC 9110 §14.2); HEAD gets the headers of the full GET.
        ByteRange range = head ? null : requestedRange(requestHeaders, etag, lastModified, now, size);
        if (range == ByteRange.UNSATISFIABLE) {
            response.header("content-range", "bytes */" + size);
            response.send(416, TEXT_PLAIN, "range not satisfiable");
            return;
        }
        long offset = range != null ? range.first() : 0;
        long length = range != null ? range.length() : size;
        response.header("content-type", MediaTypes.forFileName(fileName));
        response.header("content-length", Long.toString(length));
        response.header("accept-ranges", "bytes");
        if (range != null) {
            response.header("content-range", range.contentRange(size));
            response.status(206);
        } else {
            response.status(200);
        }
        if (!head) {
            copy(file, offset, length, response.body());
        }
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

    private static void redirectToDirectory(Request request, Response response) throws IOException {
        String query = request.query();
        response.header("location", request.path() + "/" + (query.isEmpty() ? "" : "?" + query));
        response.send(301, TEXT_PLAIN, "moved permanently");
    }

    private static void notFound(Response response) throws IOException {
        response.send(404, TEXT_PLAIN, "not found");
    }

    /**
     * Streams {@code length} bytes from {@code offset} of {@code file}. Throws when the file ends early: the
     * content-length is already promised, so a short body must reach the client as an error, not as success.
     */
    private static void copy(Path file, long offset, long length, OutputStream out) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            byte[] buffer = new byte[BUFFER_SIZE];
            ByteBuffer chunk = ByteBuffer.wrap(buffer);
            long position = offset;
            long remaining = length;
            while (remaining > 0) {
                chunk.clear().limit((int) Math.min(BUFFER_SIZE, remaining));
                int read = channel.read(chunk, position);
                if (read < 0) {
                    throw new EOFException(file + ": ended at byte " + position + " while sending " + length
                            + " bytes from offset " + offset + " (expected: the file not to shrink)");
                }
                out.write(buffer, 0, read);
                position += read;
                remaining -= read;
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
