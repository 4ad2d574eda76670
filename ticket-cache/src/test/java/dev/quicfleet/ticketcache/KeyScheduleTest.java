package dev.quicfleet.ticketcache;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class KeyScheduleTest {

    private static final Rotation ROTATION = new Rotation(Duration.ofMinutes(10), Duration.ofMinutes(25));
    private static final Instant NOW = Instant.parse("2026-11-21T10:05:00Z");

    @Test
    void scheduleSpansOldestDecryptingEpochToNextEpoch() {
        KeySchedule schedule = KeySchedule.at(NOW, ROTATION, new RandomKeys());
        long current = ROTATION.epoch(NOW);

        // ceil(25 / 10) = 3 epochs back, the current one and the next one.
        assertThat(schedule.epochs()).extracting(EpochKeys::epoch)
                .containsExactly(current - 3, current - 2, current - 1, current, current + 1);
    }

    @Test
    void encodedScheduleDecodesToTheSameKeys() {
        KeySchedule schedule = KeySchedule.at(NOW, ROTATION, new RandomKeys());

        assertThat(KeySchedule.decode(schedule.encode())).isEqualTo(schedule);
        assertThat(schedule.encode()).hasSize(1 + 8 + 8 + 4 + 5 * (8 + 48 + 32 + 32));
    }

    @Test
    void otherFormatsAndTruncatedBytesAreRefused() {
        byte[] bytes = KeySchedule.at(NOW, ROTATION, new RandomKeys()).encode();
        byte[] otherFormat = bytes.clone();
        otherFormat[0] = 2;

        assertThatThrownBy(() -> KeySchedule.decode(otherFormat)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("key schedule format 2 (expected: 1)");
        assertThatThrownBy(() -> KeySchedule.decode(Arrays.copyOf(bytes, bytes.length - 1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("key schedule: 5 epochs in ");
        assertThatThrownBy(() -> KeySchedule.decode(Arrays.copyOf(bytes, 10)))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("key schedule: truncated at 10 bytes");
    }

    @Test
    void epochKeysAroundNowStartWithTheCurrentEpoch() {
        KeySchedule schedule = KeySchedule.at(NOW, ROTATION, new RandomKeys());
        long current = ROTATION.epoch(NOW);

        assertThat(schedule.epochKeys(NOW)).extracting(EpochKeys::epoch)
                .containsExactly(current, current + 1, current - 1);
        assertThat(schedule.epochKeys(NOW.plus(Duration.ofHours(1)))).isEmpty();
    }

    @Test
    void restartedSupervisorKeepsTheRandomKeysItPublishedBefore() {
        KeySchedule before = KeySchedule.at(NOW, ROTATION, new RandomKeys());

        KeySchedule after = KeySchedule.at(NOW, ROTATION, new RandomKeys(before.epochs()));
        KeySchedule fresh = KeySchedule.at(NOW, ROTATION, new RandomKeys());

        assertThat(after).isEqualTo(before);
        assertThat(fresh.epochs().getFirst()).isNotEqualTo(before.epochs().getFirst());
    }

    @Test
    void randomKeysAreStablePerEpoch() {
        RandomKeys keys = new RandomKeys();

        assertThat(keys.keys(7)).isEqualTo(keys.keys(7)).isNotEqualTo(keys.keys(8));
    }

    @Test
    void toStringShowsNoKeyBytes() {
        KeySchedule schedule = new KeySchedule(ROTATION, List.of(new EpochKeys(3, filled(48), filled(32),
                filled(32))));

        assertThat(schedule.toString()).isEqualTo("KeySchedule[Rotation[period=PT10M, lifetime=PT25M], epochs 3..3]");
        assertThat(schedule.epochs().getFirst().toString()).isEqualTo("EpochKeys[epoch=3]");
    }

    private static byte[] filled(int length) {
        byte[] bytes = new byte[length];
        Arrays.fill(bytes, (byte) 0x5a);
        return bytes;
    }
}
