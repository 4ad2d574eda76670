package dev.quicfleet.interop;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/** The demo site's {@code /bytes/N} bodies: a-z repeated, restarting every 64 KiB; checked byte for byte. */
final class Bodies {

    static final long KIB = 1024;
    static final long MIB = 1024 * 1024;
    private static final int CHUNK = 64 * 1024;

    private Bodies() {
    }

    static byte expected(long offset) {
        return (byte) ('a' + (offset % CHUNK) % 26);
    }

    /** Null if {@code file} holds exactly the {@code n} bytes of /bytes/n, else what is wrong. */
    static String check(Path file, long n) throws IOException {
        if (!Files.exists(file)) {
            return file.getFileName() + ": not downloaded";
        }
        try (InputStream in = Files.newInputStream(file)) {
            return check(in, n, file.getFileName().toString());
        }
    }

    /** Null if {@code body} is exactly the {@code n} bytes of /bytes/n, else what is wrong. */
    static String check(byte[] body, long n, String name) {
        if (body.length != n) {
            return name + ": " + body.length + " bytes, expected " + n;
        }
        for (int i = 0; i < body.length; i++) {
            if (body[i] != expected(i)) {
                return name + ": byte " + i + " differs";
            }
        }
        return null;
    }

    /** Reads {@code in} to its end and checks it, as {@link #check(byte[], long, String)}. */
    static String check(InputStream in, long n, String name) throws IOException {
        byte[] buffer = new byte[CHUNK];
        long offset = 0;
        for (int read; (read = in.read(buffer)) > 0; ) {
            for (int i = 0; i < read; i++) {
                if (buffer[i] != expected(offset + i)) {
                    return name + ": byte " + (offset + i) + " differs";
                }
            }
            offset += read;
        }
        return offset == n ? null : name + ": " + offset + " bytes, expected " + n;
    }
}
