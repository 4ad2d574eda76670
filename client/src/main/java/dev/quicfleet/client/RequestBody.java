package dev.quicfleet.client;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * A request body. Bytes are written from the event loop; a stream or file is read on a virtual thread, 64 KiB at a
 * time with a few chunks in flight, so a slow server (QUIC flow control) slows the reading instead of filling memory.
 */
public abstract sealed class RequestBody {

    private RequestBody() {
    }

    /** No body: the request stream's send side closes right after the headers. */
    public static RequestBody none() {
        return Empty.INSTANCE;
    }

    /** {@code bytes} as the body, with {@code content-length}. */
    public static RequestBody of(byte[] bytes) {
        return new Bytes(Objects.requireNonNull(bytes, "bytes"));
    }

    /** The file's content, with {@code content-length}, streamed. */
    public static RequestBody ofFile(Path file) {
        Objects.requireNonNull(file, "file");
        long size;
        try {
            size = Files.size(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        return new Streamed(() -> {
            try {
                return Files.newInputStream(file);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
            }
        }, size);
    }

    /**
     * What {@code stream} yields, streamed until its end; {@code length} becomes {@code content-length} unless it is
     * negative (unknown). The stream is opened when the request is sent and closed after.
     */
    public static RequestBody ofInputStream(Supplier<? extends InputStream> stream, long length) {
        return new Streamed(Objects.requireNonNull(stream, "stream"), length);
    }

    /** The body length, or -1 if unknown. */
    public abstract long length();

    static final class Empty extends RequestBody {
        static final Empty INSTANCE = new Empty();

        @Override
        public long length() {
            return 0;
        }
    }

    static final class Bytes extends RequestBody {
        final byte[] bytes;

        Bytes(byte[] bytes) {
            this.bytes = bytes;
        }

        @Override
        public long length() {
            return bytes.length;
        }
    }

    static final class Streamed extends RequestBody {
        final Supplier<? extends InputStream> stream;
        final long length;

        Streamed(Supplier<? extends InputStream> stream, long length) {
            this.stream = stream;
            this.length = length;
        }

        @Override
        public long length() {
            return length;
        }
    }
}
