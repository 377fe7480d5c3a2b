package org.jvmd.vmd;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.jvmd.proto.Request;
import org.jvmd.proto.Response;
import org.jvmd.proto.StatusRequest;
import org.jvmd.sys.ipc.ControlSocket;
import org.jvmd.vmd.config.Caller;
import org.jvmd.vmd.config.ConfigEnvironment;
import org.jvmd.vmd.config.ConfigParser;
import org.jvmd.vmd.config.EtcAccounts;
import org.jvmd.vmd.config.LladdrGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ControlServerTest {
    @TempDir
    Path dir;

    ControlServer server(Path socket) throws IOException {
        return server(socket, ControlServer.DEFAULT_LIMITS);
    }

    /**
     * A Control over disabled VMs of these names booting {@code dir}/bzImage (written here), a
     * recording launcher and a daemon that ignores reload, load, reset and verbosity.
     */
    static Control control(Path dir, String... vms) throws IOException {
        Files.writeString(dir.resolve("bzImage"), "k");
        var env = new ConfigEnvironment(EtcAccounts.of("root:x:0:0::/:/bin/sh\n", "root:x:0:\n"),
                LladdrGenerator.secure(), 1, Map.of());
        StringBuilder conf = new StringBuilder();
        for (String vm : vms) {
            conf.append("vm \"").append(vm).append("\" {\n boot \"bzImage\"\n disable\n}\n");
        }
        var cfg = new ConfigParser(env).parse("vm.conf", conf.toString(), dir).config().orElseThrow();
        Registry reg = new Registry(new RecordingLauncher(), Runnable::run, System::nanoTime, LladdrGenerator.secure());
        reg.load(cfg);
        return new Control(reg, new Control.Daemon() {
            @Override
            public void reload() {
            }

            @Override
            public void load(Path file) {
            }

            @Override
            public void reset(org.jvmd.proto.ResetRequest.What what) {
            }

            @Override
            public void setVerbose(boolean verbose) {
            }
        });
    }

    ControlServer server(Path socket, ControlServer.Limits limits) throws IOException {
        Control control = control(dir, "a");
        ControlServer s = new ControlServer(ControlSocket.bind(socket, 0600, -1), control, uid -> Caller.root(), limits);
        s.start();
        return s;
    }

    /**
     * A client's reads block in native code; on virtual threads they pinned the carriers, so
     * as many silent clients as CPUs stopped vmd from answering anyone (seen end to end).
     */
    @Test
    void clientsThatStopMidRequestDoNotKeepOthersWaiting() throws Exception {
        Path socket = dir.resolve("s");
        List<ControlSocket.Connection> idle = new ArrayList<>();
        try (ControlServer s = server(socket)) {
            for (int i = 0; i < 2 * Runtime.getRuntime().availableProcessors() + 2; i++) {
                ControlSocket.Connection c = ControlSocket.connect(socket);
                idle.add(c);
                c.out().write(50); // a frame of 50 bytes announced, none sent
                c.out().flush();
            }
            // asked from a daemon thread: a starved server would leave it blocked in read
            assertEquals(1, status(socket).get(10, TimeUnit.SECONDS).getStatus().getVmsCount());
        } finally {
            for (ControlSocket.Connection c : idle) {
                c.close();
            }
        }
    }

    /** vmctl status over a fresh connection, from a daemon thread (a stuck server leaves it blocked). */
    private static CompletableFuture<Response> status(Path socket) {
        CompletableFuture<Response> answer = new CompletableFuture<>();
        Thread.ofPlatform().daemon(true).start(() -> {
            try (ControlSocket.Connection c = ControlSocket.connect(socket)) {
                c.write(Request.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build());
                answer.complete(c.read(Response.parser()));
            } catch (IOException | RuntimeException e) {
                answer.completeExceptionally(e);
            }
        });
        return answer;
    }

    /** Waits (from a daemon thread) until vmd ends this connection: the read sees its end. */
    private static CompletableFuture<Integer> endOf(ControlSocket.Connection c) {
        CompletableFuture<Integer> end = new CompletableFuture<>();
        Thread.ofPlatform().daemon(true).start(() -> {
            try {
                end.complete(c.in().read());
            } catch (IOException e) {
                end.complete(-1);
            }
        });
        return end;
    }

    @Test
    void aClientThatSendsNoWholeRequestInTimeIsCutOffIdleOrTrickling() throws Exception {
        Path socket = dir.resolve("s");
        try (ControlServer s = server(socket, new ControlServer.Limits(8, 300));
                ControlSocket.Connection idle = ControlSocket.connect(socket);
                ControlSocket.Connection partial = ControlSocket.connect(socket)) {
            partial.out().write(new byte[] {(byte) 0x80, (byte) 0x80, 0x40, 1, 2, 3}); // 1 MiB announced, 3 sent
            partial.out().flush();
            assertEquals(-1, endOf(idle).get(10, TimeUnit.SECONDS));
            assertEquals(-1, endOf(partial).get(10, TimeUnit.SECONDS));
            // and vmd still answers
            assertEquals(1, status(socket).get(10, TimeUnit.SECONDS).getStatus().getVmsCount());
        }
    }

    @Test
    void atTheCapANewClientTakesThePlaceOfTheOneWaitingLongestAndIsAnswered() throws Exception {
        Path socket = dir.resolve("s");
        List<ControlSocket.Connection> stalled = new ArrayList<>();
        try (ControlServer s = server(socket, new ControlServer.Limits(8, 60_000))) {
            for (int i = 0; i < 30; i++) {
                ControlSocket.Connection c = ControlSocket.connect(socket);
                stalled.add(c);
                c.out().write(new byte[] {(byte) 0x80, (byte) 0x80, 0x40}); // 1 MiB announced, none sent
                c.out().flush();
            }
            for (int i = 0; i < 3; i++) {
                assertEquals(1, status(socket).get(10, TimeUnit.SECONDS).getStatus().getVmsCount());
            }
            // the first ones were cut off to make room; never more than the cap are open
            assertEquals(-1, endOf(stalled.get(0)).get(10, TimeUnit.SECONDS));
            org.junit.jupiter.api.Assertions.assertTrue(s.clients() <= 8, s.clients() + " clients");
        } finally {
            for (ControlSocket.Connection c : stalled) {
                c.close();
            }
        }
    }

    @Test
    void aBurstOfRealClientsBeyondTheCapIsQueuedAndEveryOneAnswered() throws Exception {
        Path socket = dir.resolve("s");
        try (ControlServer s = server(socket, new ControlServer.Limits(4, 60_000))) {
            List<CompletableFuture<Response>> answers = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                answers.add(status(socket));
            }
            for (CompletableFuture<Response> a : answers) {
                assertEquals(1, a.get(20, TimeUnit.SECONDS).getStatus().getVmsCount());
            }
        }
    }
}
