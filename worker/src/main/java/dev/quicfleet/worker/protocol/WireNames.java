package dev.quicfleet.worker.protocol;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.util.AsciiString;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.HashMap;
import java.util.Map;

/**
 * Header names as the HTTP/2 and HTTP/3 header encoders want them: Netty's {@link HttpHeaderNames} constants for
 * the names it knows, the name itself for others.
 *
 * <p>Why: HPACK's and QPACK's encoders look every name up in the static table and in their dynamic table by a
 * case-insensitive hash and a content comparison. An {@link AsciiString} caches that hash and compares as bytes;
 * a {@link String} is hashed and compared char by char on every lookup (measured on the proxied HTTP/2 path: the
 * HEADERS write's table lookups took 2.6% of the worker's CPU with String names). The map is keyed by the lower-case
 * names the server's {@code Headers} hold; a lookup costs one {@code String.hashCode} (cached in the string).
 */
public final class WireNames {

    private static final Map<String, AsciiString> KNOWN = known();

    private WireNames() {
    }

    /** {@code name} (lower case) as the encoders want it. */
    public static CharSequence of(String name) {
        AsciiString known = KNOWN.get(name);
        return known != null ? known : name;
    }

    private static Map<String, AsciiString> known() {
        Map<String, AsciiString> names = new HashMap<>(256);
        for (Field field : HttpHeaderNames.class.getFields()) {
            if (Modifier.isStatic(field.getModifiers()) && field.getType() == AsciiString.class) {
                try {
                    AsciiString name = (AsciiString) field.get(null);
                    names.put(name.toString(), name);
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException("HttpHeaderNames." + field.getName() + ": not readable", e);
                }
            }
        }
        return Map.copyOf(names);
    }
}
