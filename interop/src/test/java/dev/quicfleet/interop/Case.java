package dev.quicfleet.interop;

/** The QUIC interop runner's test cases, in the runner's names. */
enum Case {
    HANDSHAKE("handshake"),
    TRANSFER("transfer"),
    MULTIPLEXING("multiplexing"),
    RETRY("retry"),
    RESUMPTION("resumption"),
    ZERORTT("zerortt"),
    HTTP3("http3"),
    MULTICONNECT("multiconnect"),
    KEYUPDATE("keyupdate"),
    CHACHA20("chacha20"),
    V2("v2"),
    REBIND_PORT("rebind-port"),
    REBIND_ADDR("rebind-addr"),
    CONNECTIONMIGRATION("connectionmigration");

    final String label;

    Case(String label) {
        this.label = label;
    }
}
