package org.jvmd.vmd;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import org.jvmd.proto.Request;
import org.jvmd.proto.Response;
import org.jvmd.proto.StatusRequest;
import org.jvmd.sys.ipc.ControlSocket;
import org.jvmd.vmd.config.Caller;

/**
 * The control socket's reader over generated client input: whatever a client sends (random
 * bytes, truncated or oversized frames, valid requests cut short), the server drops that
 * client and keeps answering others.
 */
class ControlServerProperties {
    static Path dir;
    static ControlServer server;
    static Path socket;

    @BeforeContainer
    static void start() throws IOException {
        dir = Files.createTempDirectory("jvmd-ctl");
        Control control = ControlServerTest.control(dir, "a", "b");
        socket = dir.resolve("s");
        server = new ControlServer(ControlSocket.bind(socket, 0600, -1), control, uid -> Caller.root());
        server.start();
    }

    @AfterContainer
    static void stop() throws IOException {
        server.close();
        Files.deleteIfExists(dir.resolve("bzImage"));
        Files.deleteIfExists(dir);
    }

    @Provide
    Arbitrary<byte[]> clientBytes() {
        byte[] valid = Request.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build().toByteArray();
        Arbitrary<byte[]> random = Arbitraries.bytes().array(byte[].class).ofMaxSize(512);
        Arbitrary<byte[]> cutValid = Arbitraries.integers().between(0, valid.length).map(n -> {
            byte[] b = new byte[n + 1];
            b[0] = (byte) valid.length;
            System.arraycopy(valid, 0, b, 1, n);
            return b;
        });
        Arbitrary<byte[]> hugePrefix = Arbitraries.integers().between(0x100001, Integer.MAX_VALUE).map(n -> {
            byte[] b = new byte[5];
            int v = n;
            int i = 0;
            while ((v & ~0x7f) != 0 && i < 4) {
                b[i++] = (byte) ((v & 0x7f) | 0x80);
                v >>>= 7;
            }
            b[i] = (byte) v;
            return java.util.Arrays.copyOf(b, i + 1);
        });
        return Arbitraries.oneOf(random, cutValid, hugePrefix);
    }

    @Property(tries = 60)
    void anyClientInputLeavesTheServerAnswering(@ForAll("clientBytes") byte[] junk) throws IOException {
        try (ControlSocket.Connection c = ControlSocket.connect(socket)) {
            OutputStream o = c.out();
            o.write(junk);
            o.flush();
        } catch (IOException e) {
            // the server may hang up on us first
        }
        try (ControlSocket.Connection c = ControlSocket.connect(socket)) {
            c.write(Request.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build());
            Response r = c.read(Response.parser());
            assertEquals(2, r.getStatus().getVmsCount());
        }
    }
}
