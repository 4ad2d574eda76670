package dev.quicfleet.transport;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * The supervisor–worker contract on the supervisor's control socket (a unix stream socket in a 0700 directory).
 *
 * <p>Every worker connects at start-up and the connection stays open for the worker's life:
 * <ol>
 *   <li>worker → supervisor: {@code hello <slot> <pid>}</li>
 *   <li>supervisor → worker: the slot's UDP socket, then its TCP listening socket, as file descriptors
 *       (SCM_RIGHTS). The supervisor owns them: a respawned worker gets the very same sockets, so the kernel's
 *       {@code SO_REUSEPORT} group keeps its order and size.</li>
 *   <li>worker → supervisor: {@code ready <port> <transport> <handover-port>}, or {@code failed <exit-code>
 *       <message>} when it cannot serve (the message is the one line the operator sees). The hand-over port is the
 *       worker's end of the link a reload's old and new worker of a slot use to pass each other packets.</li>
 * </ol>
 * During a reload the supervisor starts the new worker with the old one's hand-over port; once the new one is ready
 * it sends the old one {@code handover <port>} (the new one's port: pass on what is not yours, and drain), and when
 * the old one has exited it sends the new one {@code handover 0}.
 * If the supervisor dies, even by SIGKILL, the kernel closes its end and every worker drains and exits: no orphans.
 * Tools ask the supervisor for its slot table with {@code status}; it answers one line per slot, then {@code end}.
 * The supervisor asks a worker for its metrics with {@code scrape}; the worker answers {@code scrape <base64>}, its
 * Prometheus text exposition on one line (at most {@link #MAX_SCRAPE_LINE} bytes). On SIGUSR1 the supervisor sends
 * every worker {@code reopen}: it reopens its access log (after logrotate moved the file).
 *
 * <p>Lines are UTF-8, newline-terminated, at most {@link #MAX_LINE} bytes.
 */
public final class ControlProtocol {

    /** Longest line either side sends. */
    public static final int MAX_LINE = 4096;
    public static final String HELLO = "hello";
    public static final String READY = "ready";
    public static final String FAILED = "failed";
    public static final String STATUS = "status";
    public static final String END = "end";
    public static final String SCRAPE = "scrape";
    public static final String HANDOVER = "handover";
    public static final String REOPEN = "reopen";
    /** Longest {@code scrape} answer: a worker's whole exposition, base64-encoded. */
    public static final int MAX_SCRAPE_LINE = 32 << 20;

    private ControlProtocol() {
    }

    /**
     * The control socket of the cluster serving {@code port}: {@code $XDG_RUNTIME_DIR/quicfleet/control-<port>.sock},
     * or {@code /tmp/quicfleet-<user>/control-<port>.sock} without a runtime directory. One per port, so two clusters
     * on one machine never meet.
     */
    public static Path defaultSocket(int port) {
        String runtime = System.getenv("XDG_RUNTIME_DIR");
        Path dir = runtime != null && !runtime.isBlank() ? Path.of(runtime, "quicfleet")
                : Path.of(System.getProperty("java.io.tmpdir"), "quicfleet-" + System.getProperty("user.name"));
        return dir.resolve("control-" + port + ".sock");
    }

    /** {@code hello <slot> <pid>}. */
    public static String hello(int slot, long pid) {
        return HELLO + " " + slot + " " + pid;
    }

    /** {@code ready <port> <transport> <handover-port>}. */
    public static String ready(int port, String transport, int handoverPort) {
        return READY + " " + port + " " + transport + " " + handoverPort;
    }

    /** {@code handover <port>}: share the slot with the worker on {@code port}; 0: the other worker is gone. */
    public static String handover(int port) {
        return HANDOVER + " " + port;
    }

    /** {@code failed <exit-code> <message>}; newlines in the message become spaces. */
    public static String failed(int exitCode, String message) {
        return FAILED + " " + exitCode + " " + message.replace('\n', ' ').replace('\r', ' ');
    }

    /** A parsed control line: the verb and its arguments (the last argument of {@code failed} keeps its spaces). */
    public record Message(String verb, List<String> args) {

        /** Argument {@code i} as an int. */
        public int intArg(int i) {
            return Integer.parseInt(args.get(i));
        }
    }

    /**
     * Parses a control line.
     *
     * @throws IllegalArgumentException for an unknown verb or a wrong number of arguments
     */
    public static Message parse(String line) {
        String trimmed = line.strip();
        int space = trimmed.indexOf(' ');
        String verb = (space < 0 ? trimmed : trimmed.substring(0, space)).toLowerCase(Locale.ROOT);
        String rest = space < 0 ? "" : trimmed.substring(space + 1).strip();
        List<String> args = switch (verb) {
            case HELLO, READY, HANDOVER -> {
                List<String> parts = rest.isEmpty() ? List.of() : List.of(rest.split(" +"));
                int expected = verb.equals(HELLO) ? 2 : verb.equals(READY) ? 3 : 1;
                if (parts.size() != expected) {
                    throw new IllegalArgumentException("control line: " + trimmed + " (expected: " + verb + " and "
                            + expected + (expected == 1 ? " argument)" : " arguments)"));
                }
                yield parts;
            }
            case FAILED -> {
                int sep = rest.indexOf(' ');
                yield sep < 0 ? List.of(rest, "") : List.of(rest.substring(0, sep), rest.substring(sep + 1));
            }
            case STATUS, END -> List.of();
            case SCRAPE -> rest.isEmpty() ? List.of() : List.of(rest);
            default -> throw new IllegalArgumentException("control line: " + trimmed
                    + " (expected: hello, ready, failed, status, scrape, handover or end)");
        };
        return new Message(verb, args);
    }
}
