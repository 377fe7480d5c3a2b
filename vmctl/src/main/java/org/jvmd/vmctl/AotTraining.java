package org.jvmd.vmctl;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import org.jvmd.proto.Error;
import org.jvmd.proto.Frames;
import org.jvmd.proto.NicStats;
import org.jvmd.proto.Ok;
import org.jvmd.proto.Request;
import org.jvmd.proto.Response;
import org.jvmd.proto.StatusReply;
import org.jvmd.proto.VmState;
import org.jvmd.proto.StatsReply;
import org.jvmd.proto.VmStatus;

/**
 * The training run of vmctl's AOT cache (JDK 25, JEP 483/514; bin/vmctl builds the cache with
 * {@code -XX:AOTCacheOutput} on first use and after every build): the commands operators run
 * in loops — status, show, stats, stop — against a stand-in for vmd on a temporary socket, so
 * that the cache holds what they load, parsed and linked: picocli's parser and the command
 * models of the top level and of each command run (its help renderer too, for help). The stand-in is the JDK's own
 * unix-domain server, not vmd's: the cache holds vmctl's classes, not the daemon's.
 */
public final class AotTraining {
    private AotTraining() {
    }

    public static void main(String[] args) throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("vmctl-aot");
        Path sock = dir.resolve("vmd.sock");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(sock));
            Thread vmd = Thread.ofPlatform().daemon(true).start(() -> serve(server));
            PrintStream sink = new PrintStream(new ByteArrayOutputStream(), true);
            String s = sock.toString();
            String[][] commands = {
                {"-s", s, "status"}, {"-s", s, "status", "-r"}, {"-s", s, "show", "web"}, {"-s", s, "stats", "1"},
                {"-s", s, "stop", "web"}, {"-s", s, "stop", "-fw", "web"}, {"-vs", s, "stat"},
                {"-s", s, "start", "-cL", "-m", "1G", "-n", "uplink", "web"}, {"-s", s, "pause", "web"},
                {"-s", dir.resolve("absent").toString(), "status"}, {"frobnicate"}, {"stop", "-x"},
                {"help"}, {"help", "start"}, {"stop", "--help"},
            };
            for (int round = 0; round < 20; round++) {
                for (String[] c : commands) {
                    new Vmctl(InputStream.nullInputStream(), sink, sink).run(c);
                }
            }
            server.close();
            vmd.join(1000);
        } finally {
            Files.deleteIfExists(sock);
            Files.deleteIfExists(dir);
        }
    }

    private static void serve(ServerSocketChannel server) {
        while (server.isOpen()) {
            try (SocketChannel c = server.accept()) {
                InputStream in = Channels.newInputStream(c);
                OutputStream out = Channels.newOutputStream(c);
                Request r = Frames.read(in, Request.parser());
                if (r != null) {
                    Frames.write(out, answer(r));
                }
            } catch (IOException e) {
                return;
            }
        }
    }

    private static Response answer(Request r) {
        return switch (r.getReqCase()) {
            case STATUS -> Response.newBuilder().setStatus(StatusReply.newBuilder()
                    .addVms(VmStatus.newBuilder().setId(1).setPid(4242).setVcpus(2).setMaxMemory(1L << 30)
                            .setCurMemory(1L << 30).setTty("/dev/pts/3").setOwner("root").setOwnerGid(-1)
                            .setState(VmState.RUNNING).setName("web"))
                    .addVms(VmStatus.newBuilder().setId(2).setVcpus(1).setMaxMemory(512L << 20).setOwner("root:wheel")
                            .setOwnerGid(0).setState(VmState.STOPPED).setName("db")))
                    .build();
            case STATS -> Response.newBuilder().setStats(StatsReply.newBuilder()
                    .addNics(NicStats.newBuilder().setNic(0).setTxFrames(10).setTxBytes(1500).putDrops("bad_header", 1)))
                    .build();
            case STOP -> Response.newBuilder().setOk(Ok.newBuilder().setId(1).setMessage("requested to shutdown"))
                    .build();
            default -> Response.newBuilder().setError(Error.newBuilder().setErrno(22).setMessage("training")).build();
        };
    }
}
