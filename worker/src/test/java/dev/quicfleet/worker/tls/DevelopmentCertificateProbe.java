package dev.quicfleet.worker.tls;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;

/**
 * A stand-in for a worker starting up, run by {@link DevelopmentCertificateIT} in a JVM of its own: prints
 * {@code ready}, waits for a line on stdin (so that all probes start at once), then obtains the development
 * certificate of the state directory given as the only argument and prints {@code spki <hash>}.
 */
final class DevelopmentCertificateProbe {

    private DevelopmentCertificateProbe() {
    }

    public static void main(String[] args) throws Exception {
        Path stateDir = Path.of(args[0]);
        // Warm up in a directory of its own: with the classes loaded, the probes' real calls overlap closely.
        TlsMaterial.developmentCertificate(stateDir.resolveSibling("warm-up-" + ProcessHandle.current().pid()),
                Clock.systemUTC());
        System.out.println("ready");
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII)).readLine();
        TlsMaterial material = TlsMaterial.developmentCertificate(stateDir, Clock.systemUTC());
        System.out.println("spki " + material.spkiSha256Base64());
    }
}
