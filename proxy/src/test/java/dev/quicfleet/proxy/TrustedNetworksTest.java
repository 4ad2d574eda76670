package dev.quicfleet.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.UnknownHostException;
import org.junit.jupiter.api.Test;

class TrustedNetworksTest {

    private static InetAddress ip(String literal) throws UnknownHostException {
        return InetAddress.getByName(literal);
    }

    @Test
    void ipv4AndIpv6NetworksMatchTheirAddressesOnly() throws Exception {
        TrustedNetworks networks = TrustedNetworks.parse("trusted-proxies", "10.0.0.0/8, 192.168.1.7, 2001:db8::/32,"
                + "[::1]/128, 172.16.0.0/12");
        assertThat(networks.contains(ip("10.255.1.2"))).isTrue();
        assertThat(networks.contains(ip("11.0.0.1"))).isFalse();
        assertThat(networks.contains(ip("192.168.1.7"))).isTrue();
        assertThat(networks.contains(ip("192.168.1.8"))).isFalse();
        assertThat(networks.contains(ip("172.31.255.255"))).isTrue();
        assertThat(networks.contains(ip("172.32.0.0"))).isFalse();
        assertThat(networks.contains(ip("2001:db8:ffff::1"))).isTrue();
        assertThat(networks.contains(ip("2001:db9::1"))).isFalse();
        assertThat(networks.contains(ip("::1"))).isTrue();
        assertThat(networks.contains(ip("::2"))).isFalse();
        assertThat(networks.contains(InetAddress.getByAddress(new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1, -1, 10,
                0, 0, 1}))).as("IPv4-mapped IPv6").isTrue();
        assertThat(networks.contains((InetAddress) null)).isFalse();
        assertThat(networks).hasToString("10.0.0.0/8,192.168.1.7/32,2001:db8:0:0:0:0:0:0/32,0:0:0:0:0:0:0:1/128,"
                + "172.16.0.0/12");
    }

    @Test
    void zeroPrefixTrustsEveryoneOfItsFamily() throws Exception {
        TrustedNetworks all4 = TrustedNetworks.parse("trusted-proxies", "0.0.0.0/0");
        assertThat(all4.contains(ip("203.0.113.9"))).isTrue();
        assertThat(all4.contains(ip("2001:db8::1"))).isFalse();
    }

    @Test
    void emptyMeansNobody() throws Exception {
        assertThat(TrustedNetworks.parse("trusted-proxies", " ")).isSameAs(TrustedNetworks.NONE);
        assertThat(TrustedNetworks.NONE.contains(ip("127.0.0.1"))).isFalse();
    }

    @Test
    void badEntriesAreNamedWithWhatIsExpected() {
        assertThatThrownBy(() -> TrustedNetworks.parse("trusted-proxies", "10.0.0.0/8,example.com"))
                .hasMessage("trusted-proxies: example.com (not an IP address; expected: comma-separated IPv4 or IPv6 "
                        + "networks such as 10.0.0.0/8,::1/128)");
        assertThatThrownBy(() -> TrustedNetworks.parse("proxy-protocol-from", "10.0.0.0/33"))
                .hasMessageStartingWith("proxy-protocol-from: 10.0.0.0/33 (the prefix length must be 0..32;");
        assertThatThrownBy(() -> TrustedNetworks.parse("trusted-proxies", "::/129"))
                .hasMessageContaining("0..128");
        assertThatThrownBy(() -> TrustedNetworks.parse("trusted-proxies", "10.1/16"))
                .hasMessageContaining("not an IP address");
        assertThatThrownBy(() -> TrustedNetworks.parse("trusted-proxies", "10.0.0.0/x"))
                .hasMessageContaining("prefix length");
        // Neither is an address; InetAddress.getByName would have looked both up in DNS.
        assertThatThrownBy(() -> TrustedNetworks.parse("trusted-proxies", "999.1.1.1"))
                .hasMessageContaining("not an IP address");
        assertThatThrownBy(() -> TrustedNetworks.parse("trusted-proxies", "fe:example"))
                .hasMessageContaining("not an IP address");
    }
}
