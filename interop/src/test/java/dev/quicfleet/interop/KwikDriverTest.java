package dev.quicfleet.interop;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class KwikDriverTest {

    @Test
    void aServerHelloLoggedBeforeTheClientHelloIsKwiksRace() {
        // the start of Kwik's log of a CI run whose handshake timed out (connectionmigration, 2026-12-07)
        List<String> lines = List.of(
                "27:17.440 Creating connection with localhost:38827 with v1",
                "27:17.445 Original destination connection id: 76e79f2bd348961c (scid: e285b3b8613586ef)",
                "27:17.451 <- (1) Packet I|0|L|188|2  Token=[] AckFrame[0|Δ0] CryptoFrame[0,123]",
                "          -< CryptoStream[I|ServerHello]",
                "          >- CryptoStream[I|ClientHello]",
                "27:17.449 -> Packet I|0|L|1200|2  Token=[] CryptoFrame[0,251] Padding(902)",
                "27:17.452 -> Packet I|1|L|1200|2  Token=[] AckFrame[0|Δ0] Padding(1140)");

        assertThat(KwikDriver.Client.lostServerHello(lines)).isTrue();
    }

    @Test
    void aClientHelloFirstIsAnyOtherFailure() {
        List<String> lines = List.of(
                "27:17.440 Creating connection with localhost:38827 with v1",
                "          >- CryptoStream[I|ClientHello]",
                "27:17.449 -> Packet I|0|L|1200|2  Token=[] CryptoFrame[0,251] Padding(902)",
                "27:17.451 <- (1) Packet I|0|L|188|2  Token=[] AckFrame[0|Δ0] CryptoFrame[0,123]",
                "          -< CryptoStream[I|ServerHello]");

        assertThat(KwikDriver.Client.lostServerHello(lines)).isFalse();
        assertThat(KwikDriver.Client.lostServerHello(lines.subList(0, 3))).as("no ServerHello at all").isFalse();
    }
}
