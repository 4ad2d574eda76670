package dev.quicfleet.interop;

import java.nio.file.Path;
import java.util.Locale;

/** One independent client, driven through the interop cases. */
interface Driver {

    /** The column's title. */
    String name();

    /** The name for -Dquicfleet.interop.clients. */
    default String key() {
        return name().toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-").replaceAll("-$", "");
    }

    /** Null if the client can run here, else why not (the whole column is N/A with this reason). */
    String unavailable();

    /** Runs one case against {@code cluster}; {@code dir} is an empty scratch directory for this case. */
    Outcome run(Case c, InteropCluster cluster, Path dir) throws Exception;
}
