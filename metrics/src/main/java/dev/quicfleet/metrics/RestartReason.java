package dev.quicfleet.metrics;

/** Why the supervisor started a worker again in the same slot: the values of the {@value MeterNames#REASON} tag. */
public enum RestartReason {
    /** The worker exited on its own with a failure status. */
    CRASH("crash"),
    /** The worker died from a signal the supervisor did not send (for example {@code kill -9}). */
    KILLED("killed"),
    /** The worker ran out of memory (an {@code OutOfMemoryError} exit or the kernel's OOM killer). */
    OOM("oom"),
    /** The worker never became ready. */
    FAILED_START("failed_start"),
    /** The supervisor replaced the worker on purpose (configuration reload, upgrade). */
    RELOAD("reload");

    private final String tagValue;

    RestartReason(String tagValue) {
        this.tagValue = tagValue;
    }

    /** The tag value: {@code crash}, {@code killed}, {@code oom}, {@code failed_start} or {@code reload}. */
    public String tagValue() {
        return tagValue;
    }
}
