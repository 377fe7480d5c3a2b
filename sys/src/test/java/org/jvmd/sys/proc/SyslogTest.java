package org.jvmd.sys.proc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import jnr.unixsocket.UnixDatagramChannel;
import jnr.unixsocket.UnixSocketAddress;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** syslog(3)-style datagrams to a log socket the test listens on. */
class SyslogTest {
    @TempDir
    Path dir;

    @Test
    void messagesCarryFacilityDaemonSeverityIdentAndPid() throws Exception {
        Path sock = dir.resolve("log");
        try (UnixDatagramChannel server = UnixDatagramChannel.open()) {
            server.bind(new UnixSocketAddress(sock.toFile()));
            try (Syslog log = Syslog.open(sock, "vmd")) {
                log.log(Syslog.LOG_WARNING, "vm web: restarted too quickly");
            }
            ByteBuffer b = ByteBuffer.allocate(512);
            server.receive(b);
            b.flip();
            String line = StandardCharsets.UTF_8.decode(b).toString();
            assertEquals("<28>vmd[" + ProcessHandle.current().pid() + "]: vm web: restarted too quickly", line);
        }
    }

    @Test
    void noLogSocketMeansNoClient() throws Exception {
        assertNull(Syslog.open(dir.resolve("absent"), "vmd"));
    }
}
