package org.jvmd.sys.proc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import jnr.unixsocket.UnixDatagramChannel;
import jnr.unixsocket.UnixSocketAddress;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** sd_notify datagrams to a fake $NOTIFY_SOCKET the test listens on, as systemd's would. */
class SdNotifyTest {
    @TempDir
    Path dir;

    private static String receive(UnixDatagramChannel server) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4096);
        server.receive(b);
        b.flip();
        return StandardCharsets.UTF_8.decode(b).toString();
    }

    @Test
    void eachStateIsOneDatagramAtThePath() throws Exception {
        Path sock = dir.resolve("notify");
        try (UnixDatagramChannel server = UnixDatagramChannel.open()) {
            server.bind(new UnixSocketAddress(sock.toFile()));
            SdNotify n = SdNotify.of(sock.toString());
            assertTrue(n.enabled());
            assertTrue(n.send("READY=1\nSTATUS=3 vms"));
            assertTrue(n.send("STOPPING=1"));
            assertEquals("READY=1\nSTATUS=3 vms", receive(server));
            assertEquals("STOPPING=1", receive(server));
        }
    }

    @Test
    void anAtSignNamesTheAbstractNamespace() throws Exception {
        String name = "jvmd-sdnotify-test-" + ProcessHandle.current().pid();
        try (UnixDatagramChannel server = UnixDatagramChannel.open()) {
            server.bind(new UnixSocketAddress("\0" + name));
            assertTrue(SdNotify.of("@" + name).send("READY=1"));
            assertEquals("READY=1", receive(server));
        }
    }

    @Test
    void theReceiverIsTheManagersSide() throws Exception {
        Path sock = dir.resolve("manager");
        try (SdNotify.Receiver r = SdNotify.Receiver.bind(sock)) {
            assertTrue(SdNotify.of(r.path().toString()).send("STOPPING=1"));
            assertEquals("STOPPING=1", r.receive());
        }
        assertFalse(java.nio.file.Files.exists(sock), "close removes the socket");
    }

    @Test
    void withoutTheVariableNothingIsSent() throws Exception {
        assertFalse(SdNotify.of(null).enabled());
        assertFalse(SdNotify.of("").send("READY=1"));
    }

    @Test
    void aSocketNobodyListensOnIsAnError() {
        IOException e = assertThrows(IOException.class, () -> SdNotify.of(dir.resolve("absent").toString()).send("READY=1"));
        assertTrue(e.getMessage() != null);
        assertThrows(IOException.class, () -> SdNotify.of("relative/notify").send("READY=1"));
        assertThrows(IllegalArgumentException.class, () -> SdNotify.of(dir.resolve("x").toString()).send("A=\0"));
    }
}
