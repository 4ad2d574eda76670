package dev.quicfleet.ticketcache;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.BitSet;
import java.util.HexFormat;
import java.util.Random;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The other process of {@link SharedSecretsProcessIT}: a stand-in for a worker. Modes:
 * <ul>
 *   <li>{@code race DIR COUNT}: opens the map, prints {@code keys <encrypting key name>} and {@code ready}, waits for
 *       a line on stdin, then calls {@code firstUse} on the ids {@link #id(int)} {@code 0..COUNT-1} and prints
 *       {@code won <base64 bit set of the ids it won>} and {@code unavailable <count>}.</li>
 *   <li>{@code hold MAPFILE IDHEX}: takes the write lock of the segment holding replay id {@code IDHEX}, prints
 *       {@code locked} and waits to be killed.</li>
 *   <li>{@code hammer DIR}: two threads call {@code firstUse} as fast as they can on a pool of ids with short
 *       expiries (so most calls write), prints {@code hammering} once they run, and waits to be killed.</li>
 * </ul>
 */
final class SharedSecretsChild {

    static final int HAMMER_POOL = 20_000;

    private SharedSecretsChild() {
    }

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "race" -> race(Path.of(args[1]), Integer.parseInt(args[2]));
            case "hold" -> hold(Path.of(args[1]), HexFormat.of().parseHex(args[2]));
            case "hammer" -> hammer(Path.of(args[1]));
            default -> throw new IllegalArgumentException("mode: " + args[0]);
        }
    }

    /** The {@code n}-th id of a race: the same in both processes. */
    static byte[] id(int n) {
        byte[] id = new byte[32];
        new Random(n).nextBytes(id);
        return id;
    }

    /** Both racers use a long wait: the race is about who wins, and a busy answer would count for neither. */
    static SharedSecretsConfig raceConfig(Path dir) {
        return SharedSecretsConfig.builder(4433).directory(dir).lockWait(Duration.ofMillis(500)).build();
    }

    private static void race(Path dir, int count) throws Exception {
        try (SharedSecrets secrets = SharedSecrets.open(raceConfig(dir), Clock.systemUTC())) {
            Instant now = Instant.now();
            System.out.println("keys " + secrets.keys().orElseThrow().ticketKeyRing(now).orElseThrow()
                    .encryptingKey().nameHex());
            byte[][] ids = new byte[count][];
            for (int i = 0; i < count; i++) {
                ids[i] = id(i);
            }
            System.out.println("ready");
            new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII)).readLine();
            BitSet won = new BitSet(count);
            int unavailable = 0;
            Instant expiresAt = now.plusSeconds(600);
            for (int i = 0; i < count; i++) {
                switch (secrets.firstUse(ids[i], expiresAt)) {
                    case FIRST_USE -> won.set(i);
                    case UNAVAILABLE, FULL -> unavailable++;
                    case REPLAYED -> {
                    }
                }
            }
            System.out.println("won " + Base64.getEncoder().encodeToString(won.toByteArray()));
            System.out.println("unavailable " + unavailable);
        }
    }

    private static void hold(Path mapFile, byte[] id) throws Exception {
        new LockHolder(mapFile, SecretsMap.replayKey(id));
        System.out.println("locked");
        Thread.sleep(Duration.ofMinutes(5));
    }

    private static void hammer(Path dir) throws Exception {
        SharedSecrets secrets = SharedSecrets.open(SharedSecretsConfig.builder(4433).directory(dir).build(),
                Clock.systemUTC());
        byte[][] pool = new byte[HAMMER_POOL][];
        for (int i = 0; i < pool.length; i++) {
            pool[i] = id(1_000_000 + i);
        }
        Runnable writer = () -> {
            ThreadLocalRandom random = ThreadLocalRandom.current();
            while (true) {
                // Expired after 1 ms, so the next call on the same id replaces it: nearly every call writes.
                secrets.firstUse(pool[random.nextInt(pool.length)], Instant.now().plusMillis(1));
            }
        };
        Thread first = Thread.ofPlatform().start(writer);
        Thread.ofPlatform().start(writer);
        System.out.println("hammering");
        first.join();
    }
}
