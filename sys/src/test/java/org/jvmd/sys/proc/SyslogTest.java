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
    void theSocketIsConnectedAtOpenAndReconnectedWhenTheLogDaemonRestarts() throws Exception {
        Path sock = dir.resolve("log");
        UnixDatagramChannel first = UnixDatagramChannel.open();
        first.bind(new UnixSocketAddress(sock.toFile()));
        try (Syslog log = Syslog.open(sock, "vmd")) {
            // connected: the path may go (as after a chroot) and lines still reach the socket
            Path moved = dir.resolve("moved");
            java.nio.file.Files.move(sock, moved);
            log.log(Syslog.LOG_INFO, "one");
            assertEquals("<30>vmd[" + ProcessHandle.current().pid() + "]: one", receive(first));
            first.close();
            java.nio.file.Files.delete(moved);
            try (UnixDatagramChannel second = UnixDatagramChannel.open()) {
                second.bind(new UnixSocketAddress(sock.toFile()));
                log.log(Syslog.LOG_INFO, "two");
                assertEquals("<30>vmd[" + ProcessHandle.current().pid() + "]: two", receive(second));
            }
            log.log(Syslog.LOG_INFO, "three: nobody listens, dropped");
        }
    }

    private static String receive(UnixDatagramChannel server) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(512);
        server.receive(b);
        b.flip();
        return StandardCharsets.UTF_8.decode(b).toString();
    }

    @Test
    void noLogSocketMeansNoClient() throws Exception {
        assertNull(Syslog.open(dir.resolve("absent"), "vmd"));
    }
}
