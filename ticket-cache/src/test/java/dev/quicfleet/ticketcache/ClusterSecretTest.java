package dev.quicfleet.ticketcache;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HexFormat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ClusterSecretTest {

    private static final HexFormat HEX = HexFormat.of();
    private static final long EPOCH = 498_620;

    @TempDir
    Path dir;

    /**
     * Computed independently with OpenSSL 3.0:
     * {@code openssl kdf -keylen 48 -kdfopt digest:SHA256 -kdfopt hexkey:000102..1f
     * -kdfopt hexsalt:<"quicfleet cluster secret v1"> -kdfopt hexinfo:<"quicfleet ticket v1">0000000000079bbc HKDF}
     * (and the same with the token and reset labels, 32 bytes, and the fingerprint label at epoch 0, 4 bytes).
     */
    @Test
    void derivedKeysMatchOpenSslHkdf() {
        ClusterSecret secret = ClusterSecret.of(counting(32));

        EpochKeys keys = secret.keys(EPOCH);

        assertThat(HEX.formatHex(keys.ticketKey())).isEqualTo("42197a0ebabb648a1413ab6ef6d6ad90"
                + "fb36f389812ce7b582a5bd48266e26c2ba00a7fe6cccbe85540eb4958ad5a931");
        assertThat(HEX.formatHex(keys.tokenKey()))
                .isEqualTo("e01100300ef01a82befc78c7cd343183d73fbbc6285140853b63772159cbe04e");
        assertThat(HEX.formatHex(keys.resetKey()))
                .isEqualTo("e8cdb3e19f6d9be3649924fe276b7ba9efba300a3b93c060f098574149cf6e19");
        assertThat(secret.fingerprint()).isEqualTo("3e61fa4a");
    }

    @Test
    void sameSecretAndEpochGiveTheSameKeysOnEveryHost() {
        EpochKeys hostA = ClusterSecret.of(counting(40)).keys(EPOCH);
        EpochKeys hostB = ClusterSecret.of(counting(40)).keys(EPOCH);

        assertThat(hostA).isEqualTo(hostB);
    }

    @Test
    void differentSecretGivesDifferentKeys() {
        byte[] other = counting(32);
        other[31] ^= 1;

        EpochKeys a = ClusterSecret.of(counting(32)).keys(EPOCH);
        EpochKeys b = ClusterSecret.of(other).keys(EPOCH);

        assertThat(b.ticketKey()).isNotEqualTo(a.ticketKey());
        assertThat(b.tokenKey()).isNotEqualTo(a.tokenKey());
        assertThat(b.resetKey()).isNotEqualTo(a.resetKey());
        assertThat(ClusterSecret.of(other).fingerprint()).isNotEqualTo(ClusterSecret.of(counting(32)).fingerprint());
    }

    @Test
    void eachEpochAndEachPurposeGetsItsOwnKey() {
        ClusterSecret secret = ClusterSecret.of(counting(32));
        EpochKeys now = secret.keys(EPOCH);
        EpochKeys next = secret.keys(EPOCH + 1);

        assertThat(next.ticketKey()).isNotEqualTo(now.ticketKey());
        assertThat(next.tokenKey()).isNotEqualTo(now.tokenKey());
        assertThat(next.resetKey()).isNotEqualTo(now.resetKey());
        assertThat(now.tokenKey()).isNotEqualTo(now.resetKey());
    }

    @Test
    void privateFileOfEnoughBytesIsAccepted() throws Exception {
        Path file = secretFile(counting(32), "rw-------");
        Files.setPosixFilePermissions(dir.resolve("secret"), PosixFilePermissions.fromString("r--------"));

        ClusterSecret secret = ClusterSecret.read(file);

        assertThat(secret.keys(EPOCH)).isEqualTo(ClusterSecret.of(counting(32)).keys(EPOCH));
        assertThat(secret.toString()).isEqualTo("ClusterSecret[fingerprint=3e61fa4a]");
    }

    @Test
    void worldReadableSecretIsRefused() throws Exception {
        Path file = secretFile(counting(32), "rw-r--r--");

        assertThatThrownBy(() -> ClusterSecret.read(file)).isInstanceOf(ClusterSecretException.class)
                .hasMessage("cluster secret " + file + " is readable or writable by group or others (rw-r--r--) "
                            + "(expected: only its owner may read it: chmod 600 " + file + ")");
    }

    @Test
    void groupReadableSecretIsRefused() throws Exception {
        Path file = secretFile(counting(32), "rw-r-----");

        assertThatThrownBy(() -> ClusterSecret.read(file)).isInstanceOf(ClusterSecretException.class)
                .hasMessageContaining("readable or writable by group or others (rw-r-----)");
    }

    @Test
    void shortSecretIsRefused() throws Exception {
        Path file = secretFile(counting(31), "rw-------");

        assertThatThrownBy(() -> ClusterSecret.read(file)).isInstanceOf(ClusterSecretException.class)
                .hasMessage("cluster secret " + file + " has 31 bytes (expected: at least 32 random bytes, e.g. "
                            + "head -c 32 /dev/urandom > " + file + ")");
    }

    @Test
    void missingSecretIsRefused() {
        Path file = dir.resolve("absent");

        assertThatThrownBy(() -> ClusterSecret.read(file)).isInstanceOf(ClusterSecretException.class)
                .hasMessageStartingWith("cluster secret " + file + " cannot be read: ");
    }

    private Path secretFile(byte[] content, String mode) throws IOException {
        Path file = dir.resolve("secret");
        Files.write(file, content);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString(mode));
        return file;
    }

    private static byte[] counting(int length) {
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++) {
            bytes[i] = (byte) i;
        }
        return bytes;
    }
}
