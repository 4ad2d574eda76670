package dev.quicfleet.proxy;

import io.netty.util.NetUtil;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A set of IP networks in CIDR notation ({@code 10.0.0.0/8}, {@code 127.0.0.1/32}, {@code ::1/128},
 * {@code 2001:db8::/32}; a bare address is one host): the peers whose forwarding headers the proxy keeps
 * ({@code --trusted-proxies}) and the balancers that must send a PROXY protocol header ({@code --proxy-protocol-from}).
 * Immutable; {@link #contains} allocates nothing and is safe on any thread. An IPv4-mapped IPv6 peer
 * ({@code ::ffff:10.0.0.1}) is matched as its IPv4 address.
 */
public final class TrustedNetworks {

    /** The empty set: nobody is trusted. */
    public static final TrustedNetworks NONE = new TrustedNetworks(List.of(), "");

    private final byte[][] networks;
    private final int[] prefixes;
    private final String text;

    private TrustedNetworks(List<byte[]> networks, String text) {
        this.networks = new byte[networks.size()][];
        this.prefixes = new int[networks.size()];
        for (int i = 0; i < networks.size(); i++) {
            byte[] entry = networks.get(i);
            this.networks[i] = Arrays.copyOf(entry, entry.length - 1);
            this.prefixes[i] = entry[entry.length - 1] & 0xff;
        }
        this.text = text;
    }

    /**
     * Parses comma-separated networks; an empty or blank text is {@link #NONE}.
     *
     * @param key the option's name for the message ({@code trusted-proxies})
     * @throws IllegalArgumentException naming {@code key}, the bad entry and what is expected
     */
    public static TrustedNetworks parse(String key, String text) {
        if (text == null || text.isBlank()) {
            return NONE;
        }
        List<byte[]> parsed = new ArrayList<>();
        List<String> canonical = new ArrayList<>();
        for (String part : text.split(",")) {
            String entry = part.trim();
            if (entry.isEmpty()) {
                continue;
            }
            int slash = entry.indexOf('/');
            String host = slash < 0 ? entry : entry.substring(0, slash);
            byte[] address = literal(host);
            if (address == null) {
                throw bad(key, entry, "not an IP address");
            }
            int bits = address.length * 8;
            int prefix = bits;
            if (slash >= 0) {
                try {
                    prefix = Integer.parseInt(entry.substring(slash + 1));
                } catch (NumberFormatException e) {
                    prefix = -1;
                }
                if (prefix < 0 || prefix > bits) {
                    throw bad(key, entry, "the prefix length must be 0.." + bits);
                }
            }
            byte[] network = new byte[address.length + 1];
            for (int i = 0; i < address.length; i++) {
                int keep = Math.max(0, Math.min(8, prefix - i * 8));
                network[i] = (byte) (address[i] & (0xff << (8 - keep)));
            }
            network[address.length] = (byte) prefix;
            parsed.add(network);
            try {
                canonical.add(InetAddress.getByAddress(Arrays.copyOf(network, address.length))
                        .getHostAddress() + "/" + prefix);
            } catch (UnknownHostException e) {
                throw new IllegalStateException(e); // a 4- or 16-byte array is always an address
            }
        }
        return parsed.isEmpty() ? NONE : new TrustedNetworks(parsed, String.join(",", canonical));
    }

    private static IllegalArgumentException bad(String key, String entry, String problem) {
        return new IllegalArgumentException(key + ": " + entry + " (" + problem
                + "; expected: comma-separated IPv4 or IPv6 networks such as 10.0.0.0/8,::1/128)");
    }

    /** The bytes of an IP literal, or {@code null} when {@code host} is not one (never a name lookup). */
    private static byte[] literal(String host) {
        String h = host;
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        // Netty's parser, not InetAddress.getByName: that one sends whatever is not a literal to DNS.
        return NetUtil.createByteArrayFromIpAddressString(h);
    }

    /** Whether nobody is trusted. */
    public boolean isEmpty() {
        return networks.length == 0;
    }

    /** Whether {@code peer}'s address is in one of the networks; {@code false} for {@code null}. */
    public boolean contains(InetSocketAddress peer) {
        return peer != null && contains(peer.getAddress());
    }

    /** Whether {@code address} is in one of the networks; {@code false} for {@code null}. */
    public boolean contains(InetAddress address) {
        if (address == null || networks.length == 0) {
            return false;
        }
        byte[] bytes = address.getAddress();
        int offset = 0;
        if (bytes.length == 16 && isV4Mapped(bytes)) {
            offset = 12;
        }
        int length = bytes.length - offset;
        for (int n = 0; n < networks.length; n++) {
            byte[] network = networks[n];
            if (network.length != length) {
                continue;
            }
            int prefix = prefixes[n];
            boolean match = true;
            for (int i = 0; i < length && prefix > i * 8; i++) {
                int keep = Math.min(8, prefix - i * 8);
                int mask = (0xff << (8 - keep)) & 0xff;
                if ((bytes[offset + i] & mask) != (network[i] & 0xff)) {
                    match = false;
                    break;
                }
            }
            if (match) {
                return true;
            }
        }
        return false;
    }

    private static boolean isV4Mapped(byte[] bytes) {
        for (int i = 0; i < 10; i++) {
            if (bytes[i] != 0) {
                return false;
            }
        }
        return bytes[10] == (byte) 0xff && bytes[11] == (byte) 0xff;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TrustedNetworks other && other.text.equals(text);
    }

    @Override
    public int hashCode() {
        return text.hashCode();
    }

    /** The networks as they would be written on the command line, canonical ({@code 10.0.0.0/8,::1/128}). */
    @Override
    public String toString() {
        return text;
    }
}
