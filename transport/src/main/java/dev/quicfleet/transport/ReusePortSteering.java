package dev.quicfleet.transport;

import io.netty.channel.ChannelException;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.unix.Buffer;
import io.netty.channel.unix.Errors;
import io.netty.channel.unix.RawUnixChannelOption;
import io.netty.channel.unix.Socket;
import io.netty.channel.unix.UnixChannel;
import java.io.IOException;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Kernel steering of QUIC packets to the worker that owns their connection: a classic BPF program attached with
 * {@code SO_ATTACH_REUSEPORT_CBPF} to the host's {@code SO_REUSEPORT} group. The kernel runs it for every datagram
 * on the port, with the UDP payload as the packet, and delivers the datagram to the socket whose index in the group
 * the program returns.
 *
 * <pre>
 *   0: ld   len              ; A = UDP payload length
 *   1: jgt  #p, 0, 4         ; shorter than p+1 bytes (no slot byte)?   -&gt; 6
 *   2: ldb  [0]              ; A = first byte (header form bit 0x80)
 *   3: jset #0x80, 2, 0      ; long header (Initial, 0-RTT, Handshake)? -&gt; 6
 *   4: ldb  [p]              ; A = slot byte of the destination connection ID
 *   5: ret  a                ; deliver to socket index A
 *   6: ret  #0xffffffff      ; out of range: the kernel uses its 4-tuple hash
 * </pre>
 *
 * where {@code p = 1 + slotOffset}: one byte of short-header flags, then the DCID, whose byte {@code slotOffset}
 * ({@link ConnectionIds#slotOffset()}) is the worker slot.
 *
 * <p>What the kernel does with the result ({@code net/core/sock_reuseport.c}, {@code run_bpf_filter} and
 * {@code reuseport_select_sock}): an index {@code >= num_socks} makes {@code run_bpf_filter} return NULL and
 * {@code reuseport_select_sock} falls back to {@code reuseport_select_sock_by_hash} — the same choice as without a
 * program. So {@code 0xffffffff} means "hash", and so does a slot byte naming a socket the group does not have. A
 * load beyond the end of the packet does <i>not</i> fall back: classic BPF converted to eBPF exits with 0 when
 * {@code ldb} fails ({@code net/core/filter.c}, {@code convert_bpf_ld_abs}), which would pile every runt datagram
 * onto socket 0; hence the explicit length check first.
 *
 * <p>A group has one program, shared by all its sockets; attach it to any one socket after the group's sockets are
 * bound (attaching to a socket not yet bound gives it a group of its own, which binding then replaces). The index
 * of a socket is its position in the group: the order of binding, until a socket closes and the last one takes its
 * place — which is why the supervisor owns the sockets and never closes one while the host runs.
 */
public final class ReusePortSteering {

    /** {@code SOL_SOCKET} on Linux. */
    static final int SOL_SOCKET = 1;
    /** {@code SO_ATTACH_REUSEPORT_CBPF} on Linux (kernel 4.5+). */
    static final int SO_ATTACH_REUSEPORT_CBPF = 51;
    /** The value the program returns for "use the 4-tuple hash": any index the group does not have. */
    public static final int FALL_BACK_TO_HASH = 0xFFFF_FFFF;
    /** Size of one {@code struct sock_filter}: {@code u16 code; u8 jt; u8 jf; u32 k}. */
    public static final int INSTRUCTION_SIZE = 8;

    // Classic BPF opcodes (include/uapi/linux/filter.h, bpf_common.h).
    static final int BPF_LD = 0x00;
    static final int BPF_JMP = 0x05;
    static final int BPF_RET = 0x06;
    static final int BPF_W = 0x00;
    static final int BPF_B = 0x10;
    static final int BPF_ABS = 0x20;
    static final int BPF_LEN = 0x80;
    static final int BPF_JGT = 0x20;
    static final int BPF_JSET = 0x40;
    static final int BPF_K = 0x00;
    static final int BPF_A = 0x10;

    private static final int LONG_HEADER_BIT = 0x80;
    private static final int ENOPROTOOPT = 92;
    private static final int EPERM = 1;
    private static final int EINVAL = 22;
    private static final int ENOMEM = 12;

    private ReusePortSteering() {
    }

    /**
     * The program, as an array of {@code struct sock_filter} in host byte order (little-endian on x86_64), for IDs
     * whose slot byte is at {@code slotOffset} in the DCID.
     *
     * @throws IllegalArgumentException when {@code slotOffset} is not 1..19 (byte 0 of an ID is the first octet)
     */
    public static byte[] program(int slotOffset) {
        if (slotOffset < 1 || slotOffset >= ConnectionIds.MAX_LENGTH) {
            throw new IllegalArgumentException("slot offset: " + slotOffset + " (expected: 1.."
                    + (ConnectionIds.MAX_LENGTH - 1) + ")");
        }
        int p = 1 + slotOffset;
        ByteBuffer program = ByteBuffer.allocate(7 * INSTRUCTION_SIZE).order(ByteOrder.nativeOrder());
        instruction(program, BPF_LD | BPF_W | BPF_LEN, 0, 0, 0);
        instruction(program, BPF_JMP | BPF_JGT | BPF_K, 0, 4, p);
        instruction(program, BPF_LD | BPF_B | BPF_ABS, 0, 0, 0);
        instruction(program, BPF_JMP | BPF_JSET | BPF_K, 2, 0, LONG_HEADER_BIT);
        instruction(program, BPF_LD | BPF_B | BPF_ABS, 0, 0, p);
        instruction(program, BPF_RET | BPF_A, 0, 0, 0);
        instruction(program, BPF_RET | BPF_K, 0, 0, FALL_BACK_TO_HASH);
        return program.array();
    }

    /** The program for the slot byte of {@code ids}. */
    public static byte[] program(ConnectionIds ids) {
        return program(ids.slotOffset());
    }

    /** A readable listing of {@link #program(int)}, for logs and docs. */
    public static String listing(int slotOffset) {
        int p = 1 + slotOffset;
        program(slotOffset); // validates
        return String.join("\n",
                "0: ld   len",
                "1: jgt  #" + p + ", 0, 4",
                "2: ldb  [0]",
                "3: jset #0x80, 2, 0",
                "4: ldb  [" + p + "]",
                "5: ret  a",
                "6: ret  #0xffffffff");
    }

    /**
     * Attaches the program to the reuseport group of {@code channel} (epoll or io_uring, bound with
     * {@code SO_REUSEPORT}). Safe to call from any thread; it is one {@code setsockopt}.
     *
     * @throws SteeringException naming the socket, the errno and what to do, when the kernel refuses or the transport
     *                           (NIO) cannot set raw socket options
     */
    public static void attach(DatagramChannel channel, int slotOffset) {
        attach(channel, program(slotOffset));
    }

    /** Attaches any classic BPF {@code program} (tests use it to show what the kernel does with other programs). */
    static void attach(DatagramChannel channel, byte[] program) {
        if (!(channel instanceof UnixChannel unix)) {
            throw new SteeringException("cannot attach the steering program to " + channel.getClass().getSimpleName()
                    + ": the nio transport cannot set SO_ATTACH_REUSEPORT_CBPF (expected: io_uring or epoll; or run "
                    + "with --steering off)", null);
        }
        String socket = "UDP socket fd " + unix.fd().intValue() + " (" + channel.localAddress() + ")";
        withFprog(program, (option, fprog) -> {
            try {
                if (!channel.config().setOption(option, fprog)) {
                    throw new SteeringException("cannot attach the steering program to " + socket + ": the transport "
                            + "does not accept raw socket options (expected: io_uring or epoll)", null);
                }
            } catch (ChannelException e) {
                throw failure(socket, e.getCause() != null ? e.getCause() : e);
            }
        });
    }

    /**
     * Attaches the program to the reuseport group of a raw, bound {@code socket} (the supervisor's slot sockets).
     *
     * @throws SteeringException naming the socket, the errno and what to do
     */
    public static void attach(Socket socket, int slotOffset) {
        String name = "UDP socket fd " + socket.intValue();
        byte[] program = program(slotOffset);
        withFprog(program, (option, fprog) -> {
            try {
                socket.setRawOpt(option.level(), option.optname(), fprog);
            } catch (IOException | ChannelException e) {
                throw failure(name, e);
            }
        });
    }

    /** The Netty option that attaches a {@code struct sock_fprog} of this JVM's pointer size. */
    static RawUnixChannelOption attachOption() {
        return new RawUnixChannelOption("SO_ATTACH_REUSEPORT_CBPF", SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF,
                fprogSize());
    }

    /** {@code sizeof(struct sock_fprog)}: {@code unsigned short len}, padding to pointer alignment, the pointer. */
    static int fprogSize() {
        return 2 * Buffer.addressSize();
    }

    private interface FprogConsumer {
        void accept(RawUnixChannelOption option, ByteBuffer fprog);
    }

    private static void withFprog(byte[] program, FprogConsumer action) {
        // The kernel copies the program during setsockopt; both buffers only need to live until it returns.
        ByteBuffer filter = ByteBuffer.allocateDirect(program.length).order(ByteOrder.nativeOrder());
        filter.put(program).flip();
        int addressSize = Buffer.addressSize();
        ByteBuffer fprog = ByteBuffer.allocateDirect(fprogSize()).order(ByteOrder.nativeOrder());
        fprog.putShort(0, (short) (program.length / INSTRUCTION_SIZE));
        long address = Buffer.memoryAddress(filter);
        if (addressSize == 8) {
            fprog.putLong(addressSize, address);
        } else {
            fprog.putInt(addressSize, (int) address);
        }
        try {
            action.accept(attachOption(), fprog);
        } finally {
            Reference.reachabilityFence(filter);
            Reference.reachabilityFence(fprog);
        }
    }

    private static SteeringException failure(String socket, Throwable cause) {
        int errno = errno(cause);
        String why = switch (errno) {
            case ENOPROTOOPT -> "this kernel has no SO_ATTACH_REUSEPORT_CBPF (it needs Linux 4.5 or later)";
            case EPERM -> "operation not permitted (a seccomp or LSM policy forbids attaching socket filters here)";
            case EINVAL -> "invalid argument (the socket must be bound with SO_REUSEPORT before the program is "
                    + "attached)";
            case ENOMEM -> "out of memory for the program (check net.core.optmem_max)";
            default -> String.valueOf(cause.getMessage());
        };
        return new SteeringException("cannot attach the steering program to " + socket + ": " + why
                + "; without it a client that changes address or port reaches a random worker, which drops its "
                + "connection (run with --steering off to accept that)", cause);
    }

    /**
     * The errno of a failed {@code setsockopt}: Netty's JNI code throws a {@link ChannelException} carrying only
     * {@code strerror} text, its Java code a {@link Errors.NativeIoException} with the number.
     */
    private static int errno(Throwable cause) {
        if (cause instanceof Errors.NativeIoException n) {
            return -n.expectedErr();
        }
        String message = String.valueOf(cause.getMessage());
        if (message.contains("Protocol not available")) {
            return ENOPROTOOPT;
        }
        if (message.contains("Operation not permitted")) {
            return EPERM;
        }
        if (message.contains("Invalid argument")) {
            return EINVAL;
        }
        if (message.contains("Cannot allocate memory")) {
            return ENOMEM;
        }
        return 0;
    }

    private static void instruction(ByteBuffer program, int code, int jt, int jf, int k) {
        program.putShort((short) code).put((byte) jt).put((byte) jf).putInt(k);
    }
}
