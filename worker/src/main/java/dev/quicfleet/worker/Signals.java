package dev.quicfleet.worker;

import sun.misc.Signal;

/**
 * Installs signal handlers that only run a short action (nginx style: the handler sets a flag, the main loop acts).
 * {@code sun.misc.Signal} (module jdk.unsupported) is used because a shutdown hook cannot choose the exit code: a
 * drained worker exits 0, not 143.
 */
final class Signals {

    private Signals() {
    }

    static void handle(Runnable action, String... names) {
        for (String name : names) {
            Signal.handle(new Signal(name), signal -> action.run());
        }
    }
}
