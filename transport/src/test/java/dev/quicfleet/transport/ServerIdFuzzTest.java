package dev.quicfleet.transport;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.util.HexFormat;

/**
 * Fuzzes {@code --server-id} parsing ({@link ConnectionIds#parseServerId}), shared by the worker and the supervisor.
 * Contract: a value is either accepted as 0..4 bytes that make a connection-ID layout, and whose {@code 0x} form reads
 * back as the same bytes, or refused with an {@link IllegalArgumentException} naming {@code server-id}, the value and
 * the accepted forms. See docs/FUZZING.md.
 */
class ServerIdFuzzTest {

    @FuzzTest(maxDuration = "10s")
    void parsesOrNamesTheForms(String value) {
        if (value == null) {
            return;
        }
        byte[] id;
        try {
            id = ConnectionIds.parseServerId(value);
        } catch (IllegalArgumentException e) {
            assertThat(e).hasMessageStartingWith("server-id: ").hasMessageContaining("(expected: 0x");
            return;
        }
        assertThat(id.length).isBetween(0, ConnectionIds.MAX_SERVER_ID_LENGTH);
        assertThat(ConnectionIds.of(id).serverId()).isEqualTo(id);
        if (id.length > 0) {
            assertThat(ConnectionIds.parseServerId("0x" + HexFormat.of().formatHex(id))).isEqualTo(id);
        }
    }
}
