package dev.quicfleet.ticketcache;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.HexFormat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TicketKeyTest {

    private static final Instant T0 = Instant.parse("2026-11-21T10:00:00Z");

    @Test
    void toStringShowsTheNameButNeverKeyBytes() {
        byte[] material = new byte[TicketKey.LENGTH];
        for (int i = 0; i < material.length; i++) {
            material[i] = (byte) (0xa0 + i);
        }
        TicketKey key = TicketKey.of(material, T0, T0.plusSeconds(60));

        HexFormat hex = HexFormat.of();
        assertThat(key.toString()).contains(hex.formatHex(material, 0, 16))
                .doesNotContain(hex.formatHex(material, 16, 20))
                .doesNotContain(hex.formatHex(material, 32, 36));
        assertThat(key.nameHex()).isEqualTo(hex.formatHex(material, 0, 16));
    }

    @Test
    void partsAreCopiedInAndOut() {
        byte[] name = new byte[16];
        TicketKey key = new TicketKey(name, new byte[16], new byte[16], T0, T0.plusSeconds(1));
        name[0] = 1;
        key.name()[1] = 1;

        assertThat(key.name()).containsOnly(0);
    }

    @Test
    void wrongLengthsAndEmptyValidityAreRefused() {
        assertThatThrownBy(() -> new TicketKey(new byte[15], new byte[16], new byte[16], T0, T0.plusSeconds(1)))
                .hasMessage("name: 15 bytes (expected: 16)");
        assertThatThrownBy(() -> TicketKey.of(new byte[32], T0, T0.plusSeconds(1)))
                .hasMessage("ticket key: 32 bytes (expected: 48)");
        assertThatThrownBy(() -> new TicketKey(new byte[16], new byte[16], new byte[16], T0, T0))
                .hasMessageStartingWith("notAfter: ");
    }
}
