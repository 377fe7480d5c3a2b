package org.jvmd.vmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.jvmd.proto.Frames;
import org.jvmd.proto.NicStats;
import org.jvmd.proto.Request;
import org.jvmd.proto.Response;
import org.jvmd.proto.StatsReply;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * vmctl stats with a NIC whose vionet-proc died (issue 11): the NIC is in the table, marked
 * dead, vmctl says on stderr that the device is gone and ends with status 1.
 */
class VmctlDeadNicTest {
    @TempDir
    Path dir;

    @Test
    void aDeadNicIsShownDeadWithAWarningAndStatusOne() throws Exception {
        Path sock = dir.resolve("vmd.sock");
        StatsReply reply = StatsReply.newBuilder()
                .addNics(NicStats.newBuilder().setNic(0).setTxFrames(3).setTxBytes(180))
                .addNics(NicStats.newBuilder().setNic(1).setDead(true))
                .build();
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(sock));
            Thread.ofPlatform().daemon(true).start(() -> {
                try (SocketChannel c = server.accept()) {
                    Request r = Frames.read(Channels.newInputStream(c), Request.parser());
                    Frames.write(Channels.newOutputStream(c), r.hasStats()
                            ? Response.newBuilder().setStats(reply).build()
                            : Response.getDefaultInstance());
                } catch (Exception e) {
                    // the test fails on vmctl's side
                }
            });
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            int status = new Vmctl(InputStream.nullInputStream(), new PrintStream(out, true, StandardCharsets.UTF_8),
                    new PrintStream(err, true, StandardCharsets.UTF_8)).run(new String[] {"-s", sock.toString(), "stats", "web"});
            List<String> lines = out.toString(StandardCharsets.UTF_8).lines().toList();
            assertEquals(3, lines.size(), lines::toString);
            assertTrue(lines.get(1).matches(" +0 +3 +180 .*"), lines.get(1));
            assertTrue(lines.get(2).matches(" +1( +-){6}  dead"), lines.get(2));
            assertEquals("vmctl: vm web: nic 1 is dead: its device process is gone (stop and start the vm to bring it back)\n",
                    err.toString(StandardCharsets.UTF_8));
            assertEquals(1, status);
        }
    }
}
