package dev.quicfleet.worker.services;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.quicfleet.http.Router;
import dev.quicfleet.worker.TestResponse;
import dev.quicfleet.worker.protocol.HttpDates;
import dev.quicfleet.worker.protocol.TestExchange;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class StaticFilesTest {

    /** Modification time of every test file; the milliseconds show up in the etag, not in last-modified. */
    private static final Instant MODIFIED = Instant.ofEpochMilli(1_700_000_000_123L);
    private static final String LAST_MODIFIED = "Tue, 14 Nov 2023 22:13:20 GMT";
    private static final Instant NOW = MODIFIED.plus(Duration.ofDays(1));
    /** hello.txt: 11 bytes = 0xb, modified at 1700000000123 ms = 0x18bcfe5687b. */
    private static final String HELLO_ETAG = "\"b-18bcfe5687b\"";
    private static final String DIGITS = "0123456789";
    private static final String TEXT_PLAIN = "text/plain; charset=utf-8";

    @TempDir
    Path temp;

    private Path root;
    private StaticFiles files;

    @BeforeEach
    void createSite() throws IOException {
        root = Files.createDirectory(temp.resolve("root"));
        write("hello.txt", "hello world");
        write("digits.txt", DIGITS);
        write("a/b.txt", "b");
        write("docs/index.html", "<h1>docs</h1>");
        write(".env", "SECRET=1");
        write(".git/config", "[core]");
        Files.writeString(temp.resolve("secret"), "outside the root");
        files = new StaticFiles(root, Clock.fixed(NOW, ZoneOffset.UTC));
    }

    @Test
    void servesFileWithTypeLengthAndValidators() throws Exception {
        TestResponse response = TestExchange.get("/hello.txt").serve(files);

        assertThat(response.status()).isEqualTo(200);
        assertThat(response.bodyText()).isEqualTo("hello world");
        assertThat(response.header("content-type")).isEqualTo(TEXT_PLAIN);
        assertThat(response.header("content-length")).isEqualTo("11");
        assertThat(response.header("last-modified")).isEqualTo(LAST_MODIFIED);
        assertThat(response.header("etag")).isEqualTo(HELLO_ETAG);
        assertThat(response.header("accept-ranges")).isEqualTo("bytes");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', textBlock = """
            page.html    | text/html; charset=utf-8
            style.css    | text/css; charset=utf-8
            app.js       | text/javascript; charset=utf-8
            module.mjs   | text/javascript; charset=utf-8
            APP.MIN.JS   | text/javascript; charset=utf-8
            data.json    | application/json
            notes.txt    | text/plain; charset=utf-8
            logo.svg     | image/svg+xml
            a.png        | image/png
            b.jpg        | image/jpeg
            c.jpeg       | image/jpeg
            d.gif        | image/gif
            e.webp       | image/webp
            f.avif       | image/avif
            favicon.ico  | image/vnd.microsoft.icon
            lib.wasm     | application/wasm
            doc.pdf      | application/pdf
            feed.xml     | application/xml
            font.woff    | font/woff
            font.woff2   | font/woff2
            clip.mp4     | video/mp4
            clip.webm    | video/webm
            song.mp3     | audio/mpeg
            app.js.map   | application/json
            bundle.zip   | application/zip
            logs.tar.gz  | application/gzip
            README       | application/octet-stream
            blob.xyz     | application/octet-stream
            """)
    void contentTypeFollowsExtension(String name, String contentType) throws Exception {
        write(name, "x");

        TestResponse response = TestExchange.get("/" + name).serve(files);

        assertThat(response.status()).isEqualTo(200);
        assertThat(response.header("content-type")).isEqualTo(contentType);
    }

    @Test
    void fileModifiedInTheFutureIsAnnouncedAsModifiedNow() throws Exception {
        Path future = write("future.txt", "x");
        Files.setLastModifiedTime(future, FileTime.from(NOW.plus(Duration.ofHours(1))));

        TestResponse response = TestExchange.get("/future.txt").serve(files);

        assertThat(response.header("last-modified")).isEqualTo(HttpDates.format(NOW));
    }

    @Test
    void etagChangesWhenFileChanges() throws Exception {
        String before = TestExchange.get("/hello.txt").serve(files).header("etag");
        write("hello.txt", "hello, world");

        String after = TestExchange.get("/hello.txt").serve(files).header("etag");

        assertThat(after).isNotEqualTo(before).isEqualTo("\"c-18bcfe5687b\"");
    }

    @Test
    void headHasTheHeadersOfGetButNoBody() throws Exception {
        TestResponse get = TestExchange.get("/hello.txt").serve(files);
        TestResponse head = TestExchange.request("HEAD", "/hello.txt").serve(files);

        assertThat(head.status()).isEqualTo(200);
        assertThat(head.headers()).isEqualTo(get.headers());
        assertThat(head.header("content-length")).isEqualTo("11");
        assertThat(head.bodyBytes()).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {HELLO_ETAG, "W/" + HELLO_ETAG, "\"other\", " + HELLO_ETAG, "\"other\",W/" + HELLO_ETAG,
            "*"})
    void returnsNotModifiedWhenIfNoneMatchMatches(String ifNoneMatch) throws Exception {
        TestResponse response = TestExchange.get("/hello.txt").header("if-none-match", ifNoneMatch).serve(files);

        assertThat(response.status()).isEqualTo(304);
        assertThat(response.header("etag")).isEqualTo(HELLO_ETAG);
        assertThat(response.header("last-modified")).isEqualTo(LAST_MODIFIED);
        assertThat(response.header("content-type")).isNull();
        assertThat(response.bodyBytes()).isEmpty();
    }

    @Test
    void returnsNotModifiedWhenTagIsInALaterIfNoneMatchField() throws Exception {
        TestResponse response = TestExchange.get("/hello.txt")
                .header("if-none-match", "\"other\"")
                .header("if-none-match", HELLO_ETAG)
                .serve(files);

        assertThat(response.status()).isEqualTo(304);
    }

    @Test
    void headReturnsNotModifiedToo() throws Exception {
        TestResponse response = TestExchange.request("HEAD", "/hello.txt").header("if-none-match", HELLO_ETAG)
                .serve(files);

        assertThat(response.status()).isEqualTo(304);
    }

    @ParameterizedTest
    @ValueSource(strings = {"\"other\"", "\"b-18bcfe5687c\"", "b-18bcfe5687b", "W/\"other\""})
    void servesFileWhenIfNoneMatchDiffers(String ifNoneMatch) throws Exception {
        TestResponse response = TestExchange.get("/hello.txt").header("if-none-match", ifNoneMatch).serve(files);

        assertThat(response.status()).isEqualTo(200);
        assertThat(response.bodyText()).isEqualTo("hello world");
    }

    @ParameterizedTest
    @ValueSource(strings = {LAST_MODIFIED, "Tue, 14 Nov 2023 22:13:21 GMT", "Wed, 15 Nov 2023 00:00:00 GMT"})
    void returnsNotModifiedWhenNotModifiedSinceDate(String ifModifiedSince) throws Exception {
        TestResponse response = TestExchange.get("/hello.txt").header("if-modified-since", ifModifiedSince)
                .serve(files);

        assertThat(response.status()).isEqualTo(304);
        assertThat(response.header("etag")).isEqualTo(HELLO_ETAG);
        assertThat(response.bodyBytes()).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"Tue, 14 Nov 2023 22:13:19 GMT", "yesterday", "Tue, 14 Nov 2023 22:13:20 +0000"})
    void servesFileWhenModifiedSinceDateOrDateInvalid(String ifModifiedSince) throws Exception {
        TestResponse response = TestExchange.get("/hello.txt").header("if-modified-since", ifModifiedSince)
                .serve(files);

        assertThat(response.status()).isEqualTo(200);
        assertThat(response.bodyText()).isEqualTo("hello world");
    }

    @ParameterizedTest
    @ValueSource(strings = {"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994"})
    void acceptsAllThreeHttpDateFormats(String ifModifiedSince) throws Exception {
        Path old = write("old.txt", "x");
        Files.setLastModifiedTime(old, FileTime.from(Instant.parse("1994-11-06T08:49:37Z")));

        TestResponse response = TestExchange.get("/old.txt").header("if-modified-since", ifModifiedSince)
                .serve(files);

        assertThat(response.status()).isEqualTo(304);
    }

    @Test
    void ifNoneMatchTakesPrecedenceOverIfModifiedSince() throws Exception {
        TestResponse response = TestExchange.get("/hello.txt")
                .header("if-none-match", "\"other\"")
                .header("if-modified-since", LAST_MODIFIED)
                .serve(files);

        assertThat(response.status()).isEqualTo(200);
    }

    @ParameterizedTest
    @ValueSource(strings = {"\"other\"", "W/" + HELLO_ETAG, "b-18bcfe5687b"})
    void returnsPreconditionFailedWhenIfMatchFails(String ifMatch) throws Exception {
        TestResponse response = TestExchange.get("/hello.txt").header("if-match", ifMatch).serve(files);

        assertThat(response.status()).isEqualTo(412);
        assertThat(response.header("content-type")).isEqualTo(TEXT_PLAIN);
    }

    @ParameterizedTest
    @ValueSource(strings = {HELLO_ETAG, "*", "\"other\", " + HELLO_ETAG})
    void servesFileWhenIfMatchMatches(String ifMatch) throws Exception {
        TestResponse response = TestExchange.get("/hello.txt").header("if-match", ifMatch).serve(files);

        assertThat(response.status()).isEqualTo(200);
    }

    @Test
    void returnsPreconditionFailedWhenModifiedAfterIfUnmodifiedSince() throws Exception {
        TestResponse modified = TestExchange.get("/hello.txt")
                .header("if-unmodified-since", "Tue, 14 Nov 2023 22:13:19 GMT").serve(files);
        TestResponse unmodified = TestExchange.get("/hello.txt")
                .header("if-unmodified-since", LAST_MODIFIED).serve(files);

        assertThat(modified.status()).isEqualTo(412);
        assertThat(unmodified.status()).isEqualTo(200);
    }

    @Test
    void servesRangeFromFirstToLast() throws Exception {
        TestResponse response = TestExchange.get("/digits.txt").header("range", "bytes=2-5").serve(files);

        assertPartial(response, "2345", "bytes 2-5/10");
    }

    @Test
    void servesRangeFromOffsetToEnd() throws Exception {
        TestResponse response = TestExchange.get("/digits.txt").header("range", "bytes=7-").serve(files);

        assertPartial(response, "789", "bytes 7-9/10");
    }

    @Test
    void servesSuffixRange() throws Exception {
        TestResponse response = TestExchange.get("/digits.txt").header("range", "bytes=-3").serve(files);

        assertPartial(response, "789", "bytes 7-9/10");
    }

    @Test
    void clampsRangeEndToFileSize() throws Exception {
        TestResponse response = TestExchange.get("/digits.txt").header("range", "bytes=8-99999999999999999999999")
                .serve(files);

        assertPartial(response, "89", "bytes 8-9/10");
    }

    @Test
    void suffixLongerThanFileServesWholeFileAsRange() throws Exception {
        TestResponse response = TestExchange.get("/digits.txt").header("range", "bytes=-50").serve(files);

        assertPartial(response, DIGITS, "bytes 0-9/10");
    }

    @Test
    void rangeUnitIsCaseInsensitive() throws Exception {
        TestResponse response = TestExchange.get("/digits.txt").header("range", "Bytes=0-0").serve(files);

        assertPartial(response, "0", "bytes 0-0/10");
    }

    @ParameterizedTest
    @ValueSource(strings = {"bytes=10-", "bytes=10-20", "bytes=99999999999999999999999-", "bytes=-0"})
    void returnsRangeNotSatisfiableBeyondEnd(String range) throws Exception {
        TestResponse response = TestExchange.get("/digits.txt").header("range", range).serve(files);

        assertThat(response.status()).isEqualTo(416);
        assertThat(response.header("content-range")).isEqualTo("bytes */10");
    }

    @ParameterizedTest
    @ValueSource(strings = {"bytes=5-2", "bytes=abc", "bytes=", "bytes=-", "bytes=1-2-3", "bytes=+1-2", "bytes 0-1",
            "items=0-1", "bytes=0x1-2"})
    void invalidRangeServesWholeFile(String range) throws Exception {
        TestResponse response = TestExchange.get("/digits.txt").header("range", range).serve(files);

        assertWholeDigits(response);
    }

    @Test
    void multipleRangesServeWholeFile() throws Exception {
        TestResponse response = TestExchange.get("/digits.txt").header("range", "bytes=0-1,4-5").serve(files);

        assertWholeDigits(response);
    }

    @Test
    void repeatedRangeFieldServesWholeFile() throws Exception {
        TestResponse response = TestExchange.get("/digits.txt")
                .header("range", "bytes=0-1")
                .header("range", "bytes=4-5")
                .serve(files);

        assertWholeDigits(response);
    }

    @Test
    void ifRangeWithCurrentEtagHonoursRange() throws Exception {
        String etag = TestExchange.get("/digits.txt").serve(files).header("etag");

        TestResponse response = TestExchange.get("/digits.txt")
                .header("range", "bytes=0-1")
                .header("if-range", etag)
                .serve(files);

        assertPartial(response, "01", "bytes 0-1/10");
    }

    @ParameterizedTest
    @ValueSource(strings = {"\"other\"", "W/\"a-18bcfe5687b\"", "Tue, 14 Nov 2023 22:13:19 GMT", "not a date"})
    void ifRangeForAnotherVersionServesWholeFile(String ifRange) throws Exception {
        TestResponse response = TestExchange.get("/digits.txt")
                .header("range", "bytes=0-1")
                .header("if-range", ifRange)
                .serve(files);

        assertWholeDigits(response);
    }

    @Test
    void ifRangeWithLastModifiedDateHonoursRange() throws Exception {
        TestResponse response = TestExchange.get("/digits.txt")
                .header("range", "bytes=0-1")
                .header("if-range", LAST_MODIFIED)
                .serve(files);

        assertPartial(response, "01", "bytes 0-1/10");
    }

    @Test
    void ifRangeDateWithinASecondOfModificationIsNotTrusted() throws Exception {
        StaticFiles justModified = new StaticFiles(root, Clock.fixed(MODIFIED.plusMillis(500), ZoneOffset.UTC));

        TestResponse response = TestExchange.get("/digits.txt")
                .header("range", "bytes=0-1")
                .header("if-range", LAST_MODIFIED)
                .serve(justModified);

        assertWholeDigits(response);
    }

    @Test
    void rangeIsIgnoredWhenNotModified() throws Exception {
        String etag = TestExchange.get("/digits.txt").serve(files).header("etag");

        TestResponse response = TestExchange.get("/digits.txt")
                .header("range", "bytes=0-1")
                .header("if-none-match", etag)
                .serve(files);

        assertThat(response.status()).isEqualTo(304);
        assertThat(response.header("content-range")).isNull();
        assertThat(response.bodyBytes()).isEmpty();
    }

    @Test
    void rangeIsIgnoredForHead() throws Exception {
        TestResponse response = TestExchange.request("HEAD", "/digits.txt").header("range", "bytes=0-1").serve(files);

        assertThat(response.status()).isEqualTo(200);
        assertThat(response.header("content-length")).isEqualTo("10");
        assertThat(response.header("content-range")).isNull();
        assertThat(response.bodyBytes()).isEmpty();
    }

    @Test
    void streamsFilesLargerThanTheBuffer() throws Exception {
        byte[] content = new byte[300_001];
        new Random(42).nextBytes(content);
        Files.write(root.resolve("large.bin"), content);

        TestResponse whole = TestExchange.get("/large.bin").serve(files);
        TestResponse range = TestExchange.get("/large.bin").header("range", "bytes=65530-131080").serve(files);

        assertThat(whole.header("content-length")).isEqualTo("300001");
        assertThat(whole.bodyBytes()).isEqualTo(content);
        assertThat(range.status()).isEqualTo(206);
        assertThat(range.header("content-length")).isEqualTo("65551");
        assertThat(range.bodyBytes()).isEqualTo(Arrays.copyOfRange(content, 65530, 131081));
    }

    @Test
    void servesEmptyFile() throws Exception {
        write("empty.txt", "");

        TestResponse whole = TestExchange.get("/empty.txt").serve(files);
        TestResponse fromStart = TestExchange.get("/empty.txt").header("range", "bytes=0-").serve(files);
        TestResponse suffix = TestExchange.get("/empty.txt").header("range", "bytes=-5").serve(files);

        assertThat(whole.status()).isEqualTo(200);
        assertThat(whole.header("content-length")).isEqualTo("0");
        assertThat(fromStart.status()).isEqualTo(416);
        assertThat(fromStart.header("content-range")).isEqualTo("bytes */0");
        assertThat(suffix.status()).isEqualTo(200);
        assertThat(suffix.bodyBytes()).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "/../secret",
            "/a/../../secret",
            "/%2e%2e/secret",
            "/%2E%2E/secret",
            "/.%2e/secret",
            "/a/%2e%2e/%2e%2e/secret",
            "/a/%2e%2e/hello.txt",
            "/./hello.txt",
            "/a/%2e/b.txt",
            "/..%2fsecret",
            "/a%2f..%2f..%2fsecret",
            "/a%2Fb.txt",
            "/%2fsecret",
            "/..%5csecret",
            "/..\\secret",
            "/a%5cb.txt",
            "/hello.txt%00",
            "/hello.txt%00.png",
            "/hello.txt%0a",
            "//hello.txt",
            "/a//b.txt",
    })
    void refusesTraversalAndAmbiguousPaths(String target) throws Exception {
        TestResponse response = TestExchange.get(target).serve(files);

        assertThat(response.status()).isEqualTo(404);
        assertThat(response.bodyText()).isEqualTo("not found");
    }

    @ParameterizedTest
    @ValueSource(strings = {"/.env", "/%2eenv", "/.git/config", "/.git/", "/.git"})
    void hiddenFilesAreNotServed(String target) throws Exception {
        TestResponse response = TestExchange.get(target).serve(files);

        assertThat(response.status()).isEqualTo(404);
    }

    @ParameterizedTest
    @ValueSource(strings = {"/%zz", "/%4", "/abc%", "/%%41", "/%ff", "/%c3%28", "/a%C0%AE%C0%AE/secret",
            "/\uff11.txt", "/a b.txt"})
    void malformedPathIsBadRequest(String target) throws Exception {
        TestResponse response = TestExchange.get(target).serve(files);

        assertThat(response.status()).isEqualTo(400);
    }

    @ParameterizedTest
    @CsvSource({"/a%20b.txt, a b.txt", "/plus+sign.txt, plus+sign.txt", "/%41%42.txt, AB.txt"})
    void decodesPercentEncodedNames(String target, String name) throws Exception {
        write(name, "found " + name);

        TestResponse response = TestExchange.get(target).serve(files);

        assertThat(response.status()).isEqualTo(200);
        assertThat(response.bodyText()).isEqualTo("found " + name);
    }

    @Test
    void decodesUtf8Names() throws Exception {
        // File names are bytes; the JVM maps them to strings with the platform's encoding (UTF-8 unless LANG=C).
        assumeTrue(System.getProperty("sun.jnu.encoding").equalsIgnoreCase("UTF-8"), "file names are not UTF-8");
        write("été.txt", "summer");

        TestResponse response = TestExchange.get("/%C3%A9t%C3%A9.txt").serve(files);

        assertThat(response.status()).isEqualTo(200);
        assertThat(response.bodyText()).isEqualTo("summer");
    }

    @Test
    void symlinkOutsideRootIsNotServed() throws Exception {
        Files.createSymbolicLink(root.resolve("leak.txt"), temp.resolve("secret"));

        TestResponse response = TestExchange.get("/leak.txt").serve(files);

        assertThat(response.status()).isEqualTo(404);
        assertThat(response.bodyText()).doesNotContain("outside");
    }

    @Test
    void fileInSymlinkedDirectoryOutsideRootIsNotServed() throws Exception {
        Files.createSymbolicLink(root.resolve("elsewhere"), temp);

        TestResponse response = TestExchange.get("/elsewhere/secret").serve(files);

        assertThat(response.status()).isEqualTo(404);
    }

    @Test
    void symlinkInsideRootIsServed() throws Exception {
        Files.createSymbolicLink(root.resolve("alias.txt"), root.resolve("hello.txt"));

        TestResponse response = TestExchange.get("/alias.txt").serve(files);

        assertThat(response.status()).isEqualTo(200);
        assertThat(response.bodyText()).isEqualTo("hello world");
    }

    @Test
    void symlinkToHiddenFileIsNotServed() throws Exception {
        Files.createSymbolicLink(root.resolve("env.txt"), root.resolve(".env"));

        TestResponse response = TestExchange.get("/env.txt").serve(files);

        assertThat(response.status()).isEqualTo(404);
    }

    @Test
    void rootMayBeASymlink() throws Exception {
        Path link = Files.createSymbolicLink(temp.resolve("current"), root);

        TestResponse response = TestExchange.get("/hello.txt").serve(new StaticFiles(link));

        assertThat(response.status()).isEqualTo(200);
    }

    @Test
    void servesIndexOfDirectory() throws Exception {
        write("index.html", "<h1>home</h1>");

        TestResponse docs = TestExchange.get("/docs/").serve(files);
        TestResponse home = TestExchange.get("/").serve(files);

        assertThat(docs.status()).isEqualTo(200);
        assertThat(docs.header("content-type")).isEqualTo("text/html; charset=utf-8");
        assertThat(docs.bodyText()).isEqualTo("<h1>docs</h1>");
        assertThat(home.bodyText()).isEqualTo("<h1>home</h1>");
    }

    @Test
    void redirectsDirectoryWithoutSlashKeepingQuery() throws Exception {
        TestResponse plain = TestExchange.get("/docs").serve(files);
        TestResponse withQuery = TestExchange.get("/docs?lang=en&v=2").serve(files);

        assertThat(plain.status()).isEqualTo(301);
        assertThat(plain.header("location")).isEqualTo("/docs/");
        assertThat(withQuery.status()).isEqualTo(301);
        assertThat(withQuery.header("location")).isEqualTo("/docs/?lang=en&v=2");
    }

    @Test
    void directoryWithoutIndexIsNotFound() throws Exception {
        Files.createDirectory(root.resolve("empty"));

        TestResponse response = TestExchange.get("/empty/").serve(files);

        assertThat(response.status()).isEqualTo(404);
    }

    @Test
    void fileWithTrailingSlashIsNotFound() throws Exception {
        TestResponse response = TestExchange.get("/hello.txt/").serve(files);

        assertThat(response.status()).isEqualTo(404);
    }

    @Test
    void doubleSlashNeverTurnsIntoProtocolRelativeRedirect() throws Exception {
        Files.createDirectory(root.resolve("evil.example"));

        TestResponse response = TestExchange.get("//evil.example").serve(files);

        assertThat(response.status()).isEqualTo(404);
        assertThat(response.header("location")).isNull();
    }

    @Test
    void missingFileIsNotFound() throws Exception {
        TestResponse response = TestExchange.get("/missing.txt").serve(files);

        assertThat(response.status()).isEqualTo(404);
        assertThat(response.header("content-type")).isEqualTo(TEXT_PLAIN);
    }

    @Test
    void servesBelowRouterPrefix() throws Exception {
        write("index.html", "<h1>home</h1>");
        Router router = Router.builder().route("/static", files).build();

        TestResponse file = TestExchange.get("/static/a/b.txt").serve(router);
        TestResponse mountPoint = TestExchange.get("/static?x=1").serve(router);
        TestResponse index = TestExchange.get("/static/").serve(router);

        assertThat(file.bodyText()).isEqualTo("b");
        assertThat(mountPoint.status()).isEqualTo(301);
        assertThat(mountPoint.header("location")).isEqualTo("/static/?x=1");
        assertThat(index.bodyText()).isEqualTo("<h1>home</h1>");
    }

    @ParameterizedTest
    @ValueSource(strings = {"POST", "PUT", "DELETE", "OPTIONS", "PATCH"})
    void otherMethodsAreNotAllowed(String method) throws Exception {
        TestResponse response = TestExchange.request(method, "/hello.txt").serve(files);

        assertThat(response.status()).isEqualTo(405);
        assertThat(response.header("allow")).isEqualTo("GET, HEAD");
    }

    @Test
    void rejectsMissingRoot() {
        Path missing = temp.resolve("missing");

        assertThatThrownBy(() -> new StaticFiles(missing))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(missing.toString())
                .hasMessageContaining("expected: a directory");
    }

    @Test
    void rejectsFileAsRoot() {
        Path file = temp.resolve("secret");

        assertThatThrownBy(() -> new StaticFiles(file))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("not a directory");
    }

    private static void assertPartial(TestResponse response, String body, String contentRange) {
        assertThat(response.status()).isEqualTo(206);
        assertThat(response.bodyText()).isEqualTo(body);
        assertThat(response.header("content-length")).isEqualTo(Integer.toString(body.length()));
        assertThat(response.header("content-range")).isEqualTo(contentRange);
        assertThat(response.header("content-type")).isEqualTo(TEXT_PLAIN);
    }

    private static void assertWholeDigits(TestResponse response) {
        assertThat(response.status()).isEqualTo(200);
        assertThat(response.bodyText()).isEqualTo(DIGITS);
        assertThat(response.header("content-range")).isNull();
    }

    /** Writes a file below the root with the shared modification time. */
    @Test
    void cachedVersionIsTrustedWithinTheWindowAndCheckedAgainAfterIt() throws Exception {
        long[] nanos = {0};
        StaticFiles cached = new StaticFiles(root, Clock.fixed(NOW, ZoneOffset.UTC), Duration.ofSeconds(1),
                () -> nanos[0]);
        assertThat(TestExchange.get("/hello.txt").serve(cached).bodyText()).isEqualTo("hello world");
        write("hello.txt", "hello, world");

        nanos[0] += Duration.ofMillis(999).toNanos();
        TestResponse withinWindow = TestExchange.get("/hello.txt").serve(cached);
        nanos[0] += Duration.ofMillis(1).toNanos();
        TestResponse afterWindow = TestExchange.get("/hello.txt").serve(cached);

        assertThat(withinWindow.bodyText()).isEqualTo("hello world");
        assertThat(withinWindow.header("etag")).isEqualTo(HELLO_ETAG);
        assertThat(afterWindow.bodyText()).isEqualTo("hello, world");
        assertThat(afterWindow.header("etag")).isEqualTo("\"c-18bcfe5687b\"");
    }

    @Test
    void deletedFileIsNotFoundOnceTheWindowHasPassed() throws Exception {
        long[] nanos = {0};
        StaticFiles cached = new StaticFiles(root, Clock.fixed(NOW, ZoneOffset.UTC), Duration.ofSeconds(1),
                () -> nanos[0]);
        assertThat(TestExchange.get("/a/b.txt").serve(cached).status()).isEqualTo(200);
        Files.delete(root.resolve("a/b.txt"));

        nanos[0] += Duration.ofSeconds(1).toNanos();

        assertThat(TestExchange.get("/a/b.txt").serve(cached).status()).isEqualTo(404);
    }

    private Path write(String relative, String content) throws IOException {
        Path file = root.resolve(relative);
        Files.createDirectories(file.getParent());
        Files.writeString(file, content, StandardCharsets.UTF_8);
        Files.setLastModifiedTime(file, FileTime.from(MODIFIED));
        return file;
    }
}
