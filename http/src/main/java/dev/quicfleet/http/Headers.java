package dev.quicfleet.http;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * An ordered multi-map of HTTP header fields. Names are case-insensitive and kept in lower case, as HTTP/2 and
 * HTTP/3 send them on the wire; values keep their order. Pseudo-headers ({@code :method}, …) never appear here.
 *
 * <p>Request headers are read-only; response headers and trailers are mutable until the response commits them.
 */
public final class Headers implements Iterable<Map.Entry<String, String>> {

    /** RFC 9110 §5.6.2 tchar, by character (names are checked on every add: a table, not a search per char). */
    private static final boolean[] TOKEN = new boolean[0x7f];

    static {
        for (char c = '!'; c < 0x7f; c++) {
            TOKEN[c] = "\"(),/:;<=>?@[\\]{}".indexOf(c) < 0;
        }
    }

    private final List<Map.Entry<String, String>> fields;
    private final boolean readOnly;

    /** An empty, mutable header list. */
    public Headers() {
        this(new ArrayList<>(8), false);
    }

    private Headers(List<Map.Entry<String, String>> fields, boolean readOnly) {
        this.fields = fields;
        this.readOnly = readOnly;
    }

    /** Headers from alternating names and values: {@code Headers.of("content-type", "text/plain")}. */
    public static Headers of(String... namesAndValues) {
        if (namesAndValues.length % 2 != 0) {
            throw new IllegalArgumentException("namesAndValues: odd count " + namesAndValues.length
                    + " (expected: name, value, name, value, ...)");
        }
        Headers headers = new Headers();
        for (int i = 0; i < namesAndValues.length; i += 2) {
            headers.add(namesAndValues[i], namesAndValues[i + 1]);
        }
        return headers;
    }

    /** The first value of {@code name}, or {@code null}. */
    public String get(String name) {
        String key = normalize(name);
        for (Map.Entry<String, String> field : fields) {
            if (field.getKey().equals(key)) {
                return field.getValue();
            }
        }
        return null;
    }

    /** All values of {@code name} in order; empty when absent. */
    public List<String> getAll(String name) {
        String key = normalize(name);
        List<String> values = new ArrayList<>(2);
        for (Map.Entry<String, String> field : fields) {
            if (field.getKey().equals(key)) {
                values.add(field.getValue());
            }
        }
        return values;
    }

    /** Whether {@code name} is present. */
    public boolean contains(String name) {
        return get(name) != null;
    }

    /** The distinct names, lower case, in first-seen order. */
    public Set<String> names() {
        Set<String> names = new LinkedHashSet<>();
        for (Map.Entry<String, String> field : fields) {
            names.add(field.getKey());
        }
        return names;
    }

    /** The number of fields (a name with two values counts twice). */
    public int size() {
        return fields.size();
    }

    /** Whether there are no fields. */
    public boolean isEmpty() {
        return fields.isEmpty();
    }

    /** Appends a field, keeping existing values of the same name. */
    public Headers add(String name, String value) {
        checkWritable();
        fields.add(Map.entry(validateName(name), validateValue(name, value)));
        return this;
    }

    /** Replaces all values of {@code name} with {@code value}. */
    public Headers set(String name, String value) {
        checkWritable();
        String key = validateName(name);
        String checked = validateValue(name, value);
        remove(key);
        fields.add(Map.entry(key, checked));
        return this;
    }

    /** Removes all values of {@code name}; returns whether any was present. */
    public boolean remove(String name) {
        checkWritable();
        String key = normalize(name);
        return fields.removeIf(field -> field.getKey().equals(key));
    }

    /** A mutable copy of {@code headers}. */
    public static Headers copyOf(Headers headers) {
        return new Headers(new ArrayList<>(headers.fields), false);
    }

    /** Whether these headers are read-only (request headers, or response headers once committed). */
    public boolean isReadOnly() {
        return readOnly;
    }

    /** A read-only view of these headers (a copy; later changes to this object do not show). */
    public Headers asReadOnly() {
        return readOnly ? this : new Headers(Collections.unmodifiableList(new ArrayList<>(fields)), true);
    }

    @Override
    public Iterator<Map.Entry<String, String>> iterator() {
        return Collections.unmodifiableList(fields).iterator();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Headers other && fields.equals(other.fields);
    }

    @Override
    public int hashCode() {
        return fields.hashCode();
    }

    @Override
    public String toString() {
        return fields.toString();
    }

    private void checkWritable() {
        if (readOnly) {
            throw new UnsupportedOperationException("these headers are read-only (request headers, "
                    + "or response headers after the response was committed)");
        }
    }

    private static String normalize(String name) {
        return Objects.requireNonNull(name, "name").toLowerCase(Locale.ROOT);
    }

    /** {@code name} in lower case, checked to be a token: one pass over a name that is lower case already. */
    private static String validateName(String name) {
        Objects.requireNonNull(name, "name");
        if (name.isEmpty()) {
            throw new IllegalArgumentException("header name: empty (expected: an HTTP token)");
        }
        boolean upper = false;
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c >= TOKEN.length || !TOKEN[c]) {
                throw new IllegalArgumentException("header name: \"" + name + "\" (expected: an HTTP token, "
                        + "no spaces, colons or control characters)");
            }
            upper |= c >= 'A' && c <= 'Z';
        }
        return upper ? name.toLowerCase(Locale.ROOT) : name;
    }

    private static String validateValue(String name, String value) {
        Objects.requireNonNull(value, "value");
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == '\r' || c == '\n' || c == 0) {
                throw new IllegalArgumentException("header " + name + ": value contains CR, LF or NUL "
                        + "(expected: a single-line value)");
            }
        }
        return value;
    }
}
