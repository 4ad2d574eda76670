package dev.quicfleet.interop;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** The case × client matrix as Markdown, and its place in docs/INTEROP.md (between two marker comments). */
final class Matrix {

    static final String BEGIN = "<!-- interop matrix: written by scripts/interop -->";
    static final String END = "<!-- end of interop matrix -->";

    private Matrix() {
    }

    /** The matrix (one word per cell), then each client's cells with what was seen or why N/A. */
    static String render(Map<Driver, Map<Case, Outcome>> matrix) {
        List<Driver> drivers = List.copyOf(matrix.keySet());
        StringBuilder out = new StringBuilder("| case |");
        drivers.forEach(d -> out.append(' ').append(d.name()).append(" |"));
        out.append("\n|---|");
        drivers.forEach(d -> out.append("---|"));
        out.append('\n');
        for (Case c : Case.values()) {
            out.append("| ").append(c.label).append(" |");
            drivers.forEach(d -> out.append(' ').append(matrix.get(d).get(c).cell()).append(" |"));
            out.append('\n');
        }
        for (Driver d : drivers) {
            out.append("\n**").append(d.name()).append("**\n\n");
            matrix.get(d).forEach((c, o) -> out.append("- ").append(c.label).append(": ").append(o.cell())
                    .append(" — ").append(o.detail().replace("\n", " ")).append('\n'));
        }
        return out.toString();
    }

    /** Replaces the matrix between the markers in {@code file} (which must have them). */
    static void writeInto(Path file, String table) throws IOException {
        String text = Files.readString(file);
        int begin = text.indexOf(BEGIN);
        int end = text.indexOf(END);
        if (begin < 0 || end < begin) {
            throw new IllegalStateException(file + " has no \"" + BEGIN + "\" ... \"" + END + "\" markers: add them "
                    + "where the matrix goes");
        }
        Files.writeString(file, text.substring(0, begin + BEGIN.length()) + "\n" + table + text.substring(end));
    }
}
