package dev.quicfleet.transport;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A small classic BPF interpreter for tests: the subset a reuseport program uses (loads, jumps, returns, a few ALU
 * operations), with the kernel's semantics where they matter — a load past the end of the packet ends the program
 * with 0 (net/core/filter.c converts cBPF so), conditional jumps are relative to the next instruction, and values
 * are unsigned 32-bit.
 */
final class ClassicBpf {

    private ClassicBpf() {
    }

    /** Runs {@code program} (an array of {@code struct sock_filter} in host order) on {@code packet}. */
    static long run(byte[] program, byte[] packet) {
        ByteBuffer insns = ByteBuffer.wrap(program).order(ByteOrder.nativeOrder());
        int count = program.length / 8;
        long a = 0;
        long x = 0;
        int pc = 0;
        while (true) {
            if (pc >= count) {
                throw new IllegalStateException("ran off the end of the program at " + pc);
            }
            int code = insns.getShort(pc * 8) & 0xFFFF;
            int jt = insns.get(pc * 8 + 2) & 0xFF;
            int jf = insns.get(pc * 8 + 3) & 0xFF;
            long k = insns.getInt(pc * 8 + 4) & 0xFFFF_FFFFL;
            pc++;
            switch (code) {
                case 0x80 -> a = packet.length; // ld len
                case 0x81 -> x = packet.length; // ldx len
                case 0x00 -> a = k; // ld #k
                case 0x01 -> x = k; // ldx #k
                case 0x30, 0x28, 0x20 -> { // ldb/ldh/ld [k]
                    int size = code == 0x30 ? 1 : code == 0x28 ? 2 : 4;
                    if (k + size > packet.length) {
                        return 0;
                    }
                    a = load(packet, (int) k, size);
                }
                case 0x50, 0x48, 0x40 -> { // ldb/ldh/ld [x + k]
                    int size = code == 0x50 ? 1 : code == 0x48 ? 2 : 4;
                    long offset = (x + k) & 0xFFFF_FFFFL;
                    if (offset + size > packet.length) {
                        return 0;
                    }
                    a = load(packet, (int) offset, size);
                }
                case 0x54 -> a = a & k; // and #k
                case 0x44 -> a = a | k; // or #k
                case 0x04 -> a = (a + k) & 0xFFFF_FFFFL; // add #k
                case 0x07 -> x = a; // tax
                case 0x87 -> a = x; // txa
                case 0x05 -> pc += (int) k; // ja
                case 0x15 -> pc += a == k ? jt : jf; // jeq #k
                case 0x25 -> pc += a > k ? jt : jf; // jgt #k
                case 0x35 -> pc += a >= k ? jt : jf; // jge #k
                case 0x45 -> pc += (a & k) != 0 ? jt : jf; // jset #k
                case 0x06 -> { // ret #k
                    return k;
                }
                case 0x16 -> { // ret a
                    return a;
                }
                default -> throw new IllegalArgumentException("opcode 0x" + Integer.toHexString(code)
                        + " not supported by this test interpreter");
            }
        }
    }

    private static long load(byte[] packet, int offset, int size) {
        long value = 0;
        for (int i = 0; i < size; i++) {
            value = value << 8 | (packet[offset + i] & 0xFF); // network byte order, as the kernel loads
        }
        return value;
    }
}
