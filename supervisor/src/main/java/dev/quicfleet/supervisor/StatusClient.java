package dev.quicfleet.supervisor;

import dev.quicfleet.transport.ControlProtocol;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Asks a running supervisor for its slot table over its control socket: what {@code supervisor status} prints and
 * what the status page shows, so the two cannot disagree.
 */
final class StatusClient {

    private StatusClient() {
    }

    /**
     * The slot table, one line per slot ({@code slot 0 pid 1234 state ready uptime 52s restarts 0 last-exit -}).
     *
     * @throws IOException when nothing answers on {@code socket}
     */
    static List<String> status(Path socket) throws IOException {
        try (SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            channel.connect(UnixDomainSocketAddress.of(socket));
            channel.write(ByteBuffer.wrap((ControlProtocol.STATUS + "\n").getBytes(StandardCharsets.UTF_8)));
            BufferedReader reader = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel),
                    StandardCharsets.UTF_8));
            List<String> lines = new ArrayList<>();
            for (String line; (line = reader.readLine()) != null && !line.equals(ControlProtocol.END); ) {
                lines.add(line);
            }
            return lines;
        }
    }
}
