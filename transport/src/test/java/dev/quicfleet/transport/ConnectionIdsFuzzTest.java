package dev.quicfleet.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Fuzzes the reading side of {@link ConnectionIds}: every destination connection ID a peer can put in a packet goes
 * through {@code isValid}/{@code isIssuedByThisHost} and, once valid, {@code slot}/{@code serverId}. Contract: no
 * exception for any bytes except the documented {@link IllegalArgumentException} (with a message) from
 * {@code slot}/{@code serverId} on an invalid ID; nothing read outside the buffer's position..limit (the ID sits
 * inside a larger datagram, so a read past the limit would be another field's bytes, and Java reports it here as an
 * {@link IndexOutOfBoundsException}); the buffer's position and limit untouched; an ID of this host re-encodes to
 * itself. See docs/FUZZING.md.
 */
class ConnectionIdsFuzzTest {

    @FuzzTest(maxDuration = "10s")
    void readsAnyConnectionId(FuzzedDataProvider data) {
        byte[] serverId = data.consumeBytes(data.consumeInt(0, ConnectionIds.MAX_SERVER_ID_LENGTH));
        int min = 2 + serverId.length + ConnectionIds.MIN_NONCE_LENGTH;
        ConnectionIds ids = ConnectionIds.of(serverId, data.consumeInt(min, ConnectionIds.MAX_LENGTH));
        // The ID as a peer's datagram carries it: a window [position, limit) inside a larger array.
        int before = data.consumeInt(0, 8);
        int after = data.consumeInt(0, 8);
        byte[] datagram = data.consumeRemainingAsBytes();
        if (datagram.length < before + after) {
            return;
        }
        ByteBuffer cid = ByteBuffer.wrap(datagram, before, datagram.length - before - after).slice();
        int position = cid.position();
        int limit = cid.limit();

        boolean valid = ids.isValid(cid);
        boolean ours = ids.isIssuedByThisHost(cid);
        assertThat(!ours || valid).as("issued by this host implies valid").isTrue();
        if (cid.hasRemaining()) {
            assertThat(ConnectionIds.rotation(cid)).isBetween(0, 7);
        } else {
            assertThatThrownBy(() -> ConnectionIds.rotation(cid)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("empty");
        }
        if (valid) {
            int slot = ids.slot(cid);
            byte[] id = new byte[cid.remaining()];
            cid.get(cid.position(), id);
            byte[] theirServerId = ids.serverId(cid);
            assertThat(theirServerId).isEqualTo(Arrays.copyOfRange(id, 1, ids.slotOffset()));
            assertThat(slot).isEqualTo(id[ids.slotOffset()] & 0xFF);
            assertThat(ours).isEqualTo(Arrays.equals(theirServerId, serverId));
            if (ours) {
                byte[] nonce = Arrays.copyOfRange(id, ids.slotOffset() + 1, id.length);
                assertThat(ids.encode(ConnectionIds.rotation(cid), slot, nonce))
                        .as("an ID of this host re-encodes to itself: rotation, server id, slot and nonce read right")
                        .isEqualTo(id);
            }
        } else {
            assertThatThrownBy(() -> ids.slot(cid)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("does not have this layout");
            assertThatThrownBy(() -> ids.serverId(cid)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("does not have this layout");
        }
        assertThat(cid.position()).isEqualTo(position);
        assertThat(cid.limit()).isEqualTo(limit);
    }
}
