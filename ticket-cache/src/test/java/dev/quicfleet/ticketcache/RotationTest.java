package dev.quicfleet.ticketcache;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Rotation and the key ring it produces, with the defaults: a new key every hour, tickets valid for 12 hours. */
class RotationTest {

    private static final Rotation ROTATION = Rotation.DEFAULT;
    private static final Instant EPOCH_START = Instant.parse("2026-11-21T10:00:00Z");
    private static final KeySource SECRET = ClusterSecret.of(new byte[32]);

    @Test
    void epochsAreCountedFromTheUnixEpochSoEveryHostAgrees() {
        assertThat(ROTATION.epoch(EPOCH_START)).isEqualTo(EPOCH_START.getEpochSecond() / 3600);
        assertThat(ROTATION.epoch(EPOCH_START.plusMillis(3_599_999))).isEqualTo(ROTATION.epoch(EPOCH_START));
        assertThat(ROTATION.epoch(EPOCH_START.minusMillis(1))).isEqualTo(ROTATION.epoch(EPOCH_START) - 1);
        assertThat(ROTATION.start(ROTATION.epoch(EPOCH_START))).isEqualTo(EPOCH_START);
    }

    @Test
    void currentKeyEncryptsAndNextKeyIsPublishedOnePeriodAhead() {
        Instant now = EPOCH_START.plusSeconds(600);
        long epoch = ROTATION.epoch(now);

        TicketKeyRing ring = ring(now);

        assertThat(ring.encryptingKey()).isEqualTo(SECRET.keys(epoch).ticketKey(ROTATION));
        assertThat(ring.decryptingKeys().getFirst()).isEqualTo(ring.encryptingKey());
        assertThat(ring.decryptingKeys().get(1)).as("next key, right after the encrypting one")
                .isEqualTo(SECRET.keys(epoch + 1).ticketKey(ROTATION));
        assertThat(ring.decryptingKeys().get(1).notBefore()).isEqualTo(EPOCH_START.plus(ROTATION.period()));
    }

    @Test
    void nextKeyTakesOverAtTheEpochBoundary() {
        TicketKeyRing before = ring(EPOCH_START.minusMillis(1));
        TicketKeyRing after = ring(EPOCH_START);

        assertThat(before.decryptingKeys().get(1)).isEqualTo(after.encryptingKey());
        assertThat(after.decryptingKeys()).contains(before.encryptingKey());
    }

    @Test
    void rotatedKeyStillDecryptsUntilItsTicketsExpire() {
        // The last ticket of this key is issued just before the next epoch begins; it expires a lifetime later.
        Instant now = EPOCH_START.plusSeconds(1800);
        TicketKey issuing = ring(now).encryptingKey();
        Instant lastIssue = EPOCH_START.plus(ROTATION.period()).minusMillis(1);

        Instant justBeforeExpiry = lastIssue.plus(ROTATION.lifetime());
        TicketKeyRing later = ring(justBeforeExpiry);

        assertThat(later.encryptingKey()).isNotEqualTo(issuing);
        assertThat(later.decryptingKeys()).contains(issuing);
    }

    @Test
    void keyIsDroppedOnceItsLastTicketHasExpired() {
        TicketKey issuing = ring(EPOCH_START).encryptingKey();
        Instant lastTicketExpires = EPOCH_START.plus(ROTATION.period()).plus(ROTATION.lifetime());

        assertThat(ring(lastTicketExpires.minusMillis(1)).decryptingKeys()).contains(issuing);
        assertThat(ring(lastTicketExpires).decryptingKeys()).doesNotContain(issuing);
    }

    @Test
    void everyTicketIsAcceptedForAtLeastTheLifetimeAndAtMostLifetimePlusPeriod() {
        for (long offset : new long[] {0, 1, 1_799_999, 3_599_999}) {
            Instant issued = EPOCH_START.plusMillis(offset);
            TicketKey key = ring(issued).encryptingKey();

            assertThat(ring(issued.plus(ROTATION.lifetime()).minusMillis(1)).decryptingKeys()).as("offset " + offset)
                    .contains(key);
            assertThat(ring(issued.plus(ROTATION.lifetime()).plus(ROTATION.period())).decryptingKeys())
                    .as("offset " + offset).doesNotContain(key);
        }
    }

    @Test
    void ringHoldsCurrentNextAndEveryKeyThatMayStillDecrypt() {
        List<TicketKey> keys = ring(EPOCH_START.plusSeconds(1)).decryptingKeys();

        // current + next + the 12 previous epochs (the oldest one's tickets expire at the end of this epoch).
        assertThat(keys).hasSize(14);
        assertThat(keys.subList(2, keys.size())).isSortedAccordingTo(
                (a, b) -> b.notBefore().compareTo(a.notBefore()));
    }

    @Test
    void scheduleWithNothingLeftToDecryptGivesNoRing() {
        KeySchedule schedule = KeySchedule.at(EPOCH_START, ROTATION, SECRET);

        assertThat(schedule.ticketKeyRing(EPOCH_START.plus(Duration.ofDays(2)))).isEqualTo(Optional.empty());
    }

    @Test
    void badDurationsAreRefusedWithTheFlagName() {
        assertThatThrownBy(() -> new Rotation(Duration.ofMillis(500), Duration.ofHours(1)))
                .hasMessage("ticket-key-rotation: PT0.5S (expected: at least 1s, in whole milliseconds)");
        assertThatThrownBy(() -> new Rotation(Duration.ofHours(1), Duration.ZERO))
                .hasMessage("ticket-lifetime: PT0S (expected: at least 1s, in whole milliseconds)");
        assertThatThrownBy(() -> new Rotation(Duration.ofMinutes(1), Duration.ofHours(2)))
                .hasMessage("ticket-lifetime: PT2H is more than 62 times ticket-key-rotation PT1M (expected: a longer "
                            + "rotation period or a shorter lifetime)");
    }

    private static TicketKeyRing ring(Instant now) {
        return KeySchedule.at(now, ROTATION, SECRET).ticketKeyRing(now).orElseThrow();
    }
}
