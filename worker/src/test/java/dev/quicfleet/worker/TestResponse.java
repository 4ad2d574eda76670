package dev.quicfleet.worker;

import dev.quicfleet.http.Headers;
import dev.quicfleet.http.Response;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A {@link Response} that records status, headers and body in memory, and enforces the worker's contract more
 * strictly than the worker does, so that handler bugs show up in unit tests: the response commits at the first
 * body byte, status changes after that throw, header changes after that and a body that differs from an explicit
 * {@code content-length} fail {@link #complete}.
 */
public final class TestResponse implements Response {

    private final Headers headers = new Headers();
    private final Headers trailers = new Headers();
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final OutputStream body = new OutputStream() {
        @Override
        public void write(int b) throws IOException {
            checkOpen();
            commit();
            bytes.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            checkOpen();
            commit();
            bytes.write(b, off, len);
        }

        @Override
        public void flush() throws IOException {
            checkOpen();
            commit();
        }

        @Override
        public void close() {
            commit();
            closed = true;
        }
    };
    private int status = 200;
    private Headers committedHeaders;
    private boolean closed;

    @Override
    public Response status(int status) {
        if (committedHeaders != null) {
            throw new IllegalStateException("status " + status + " set after the response was committed");
        }
        this.status = status;
        return this;
    }

    @Override
    public int status() {
        return status;
    }

    @Override
    public Headers headers() {
        return headers;
    }

    @Override
    public Headers trailers() {
        return trailers;
    }

    @Override
    public OutputStream body() {
        return body;
    }

    @Override
    public boolean committed() {
        return committedHeaders != null;
    }

    @Override
    public void send(int status, String contentType, byte[] content) throws IOException {
        status(status);
        headers.set("content-type", contentType);
        headers.set("content-length", Integer.toString(content.length));
        body.write(content);
        body.close();
    }

    /** The body bytes the handler wrote (all of them: unlike the worker, this double keeps them for HEAD too). */
    public byte[] bodyBytes() {
        return bytes.toByteArray();
    }

    /** {@link #bodyBytes()} as UTF-8. */
    public String bodyText() {
        return bytes.toString(StandardCharsets.UTF_8);
    }

    /** Shorthand for {@code headers().get(name)}. */
    public String header(String name) {
        return headers.get(name);
    }

    /**
     * Ends the response as the worker does when the handler returns, and checks what the worker relies on.
     *
     * @throws AssertionError when headers changed after the commit, or a response to anything but HEAD that is
     *                        not a 304 declared a {@code content-length} its body does not have
     */
    public void complete(String method) {
        commit();
        closed = true;
        if (!committedHeaders.equals(headers)) {
            throw new AssertionError("headers changed after commit: " + committedHeaders + " -> " + headers);
        }
        String contentLength = headers.get("content-length");
        if (contentLength != null && !method.equals("HEAD") && status != 304
                && Long.parseLong(contentLength) != bytes.size()) {
            throw new AssertionError("content-length " + contentLength + " but " + bytes.size() + " body bytes");
        }
    }

    private void commit() {
        if (committedHeaders == null) {
            committedHeaders = Headers.of();
            headers.forEach(field -> committedHeaders.add(field.getKey(), field.getValue()));
        }
    }

    private void checkOpen() throws IOException {
        if (closed) {
            throw new IOException("response body already closed");
        }
    }
}
