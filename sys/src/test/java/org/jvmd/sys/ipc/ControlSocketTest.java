package org.jvmd.sys.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvmd.proto.Ok;
import org.jvmd.proto.Request;
import org.jvmd.proto.Response;
import org.jvmd.proto.StatusRequest;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.proc.Users;

class ControlSocketTest {
    @TempDir
    Path dir;

    @Test
    void connectionsCarryFramesAndThePeersCredentials() throws Exception {
        Path sock = dir.resolve("vmd.sock");
        int gid = Users.groupId("_vmd");
        try (ControlSocket server = ControlSocket.bind(sock, 0660, gid)) {
            assertEquals("rw-rw----", PosixFilePermissions.toString(Files.getPosixFilePermissions(sock)));
            assertEquals(gid, (int) Files.getAttribute(sock, "unix:gid"));
            CompletableFuture<ControlSocket.PeerCredentials> seen = CompletableFuture.supplyAsync(() -> {
                try (ControlSocket.Connection c = server.accept()) {
                    Request r = c.read(Request.parser());
                    assertTrue(r.hasStatus());
                    c.write(Response.newBuilder().setOk(Ok.newBuilder().setMessage("fine")).build());
                    assertNull(c.read(Request.parser()), "clean end of stream");
                    return c.peer();
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            try (ControlSocket.Connection client = ControlSocket.connect(sock)) {
                client.write(Request.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build());
                assertEquals("fine", client.read(Response.parser()).getOk().getMessage());
            }
            ControlSocket.PeerCredentials peer = seen.get(10, TimeUnit.SECONDS);
            assertEquals(new ControlSocket.PeerCredentials(0, 0, (int) ProcessHandle.current().pid()), peer);
        }
        assertFalse(Files.exists(sock), "close removes the socket file");
    }

    @Test
    @SuppressWarnings("try")
    void aStaleSocketIsReplacedButALiveOneIsNot() throws Exception {
        Path sock = dir.resolve("vmd.sock");
        try (ControlSocket live = ControlSocket.bind(sock, 0600, -1)) {
            // a listening socket accepts connections into its backlog even without accept()
            IOException e = assertThrows(IOException.class, () -> ControlSocket.bind(sock, 0600, -1));
            assertEquals("control socket " + sock + ": in use by another daemon", e.getMessage());
        }
        // leave a dead socket file behind: bound, then its listener closed without unlinking
        jnr.unixsocket.UnixServerSocketChannel ch = jnr.unixsocket.UnixServerSocketChannel.open();
        ch.socket().bind(new jnr.unixsocket.UnixSocketAddress(sock.toFile()));
        ch.close();
        assertTrue(Files.exists(sock));
        try (ControlSocket again = ControlSocket.bind(sock, 0600, -1);
                ControlSocket.Connection c = ControlSocket.connect(sock)) {
            assertEquals(sock, again.path());
        }
    }

    @Test
    void aPathThatIsNotASocketIsRefused() throws Exception {
        Path f = Files.writeString(dir.resolve("vmd.sock"), "precious");
        IOException e = assertThrows(IOException.class, () -> ControlSocket.bind(f, 0600, -1));
        assertTrue(e.getMessage().contains("not a socket"), e.getMessage());
        assertEquals("precious", Files.readString(f));
    }

    @Test
    void closingWakesABlockedAccept() throws Exception {
        ControlSocket server = ControlSocket.bind(dir.resolve("vmd.sock"), 0600, -1);
        java.util.concurrent.atomic.AtomicInteger tid = new java.util.concurrent.atomic.AtomicInteger();
        CompletableFuture<Throwable> accepted = CompletableFuture.supplyAsync(() -> {
            tid.set(LibC.gettid());
            try {
                server.accept().close();
                return null;
            } catch (Throwable t) {
                return t;
            }
        });
        BlockedThreads.awaitSyscall(tid, 43, 288); // accept, accept4
        server.close();
        Throwable t = accepted.get(10, TimeUnit.SECONDS);
        assertTrue(t instanceof java.nio.channels.ClosedChannelException, String.valueOf(t));
    }

    private static long openFds() throws IOException {
        try (var l = Files.list(Path.of("/proc/self/fd"))) {
            return l.count();
        }
    }

    @Test
    void aPassingClientsDescriptorsArriveWithItsRequestInOrder() throws Exception {
        Path sock = dir.resolve("vmd.sock");
        Path a = Files.writeString(dir.resolve("a"), "a");
        Path b = Files.writeString(dir.resolve("b"), "b");
        try (ControlSocket server = ControlSocket.bind(sock, 0600, -1)) {
            CompletableFuture<List<Path>> seen = CompletableFuture.supplyAsync(() -> {
                try (ControlSocket.Connection c = server.accept()) {
                    List<Path> out = new java.util.ArrayList<>();
                    for (int round = 0; round < 2; round++) {
                        try (Received<Request> r = c.receive(Request.parser())) {
                            assertTrue(r.message().hasStatus());
                            for (Fd fd : r.takeAll()) {
                                try (fd) {
                                    out.add(Files.readSymbolicLink(fd.procPath()));
                                    assertTrue(LibC.isCloseOnExec(fd.num()), "MSG_CMSG_CLOEXEC");
                                }
                            }
                        }
                        c.write(Response.newBuilder().setOk(Ok.newBuilder().setMessage("fine")).build());
                    }
                    assertNull(c.receive(Request.parser()));
                    return out;
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            Request status = Request.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build();
            try (ControlSocket.Connection client = ControlSocket.connectPassing(sock)) {
                Fd fa = LibC.open(a.toString(), LibC.O_RDONLY | LibC.O_CLOEXEC);
                Fd fb = LibC.open(b.toString(), LibC.O_RDONLY | LibC.O_CLOEXEC);
                client.write(status, List.of(fb, fa));
                assertFalse(fa.isOpen() || fb.isOpen(), "sending hands them over");
                assertEquals("fine", client.read(Response.parser()).getOk().getMessage());
                client.write(status, List.of());
                assertEquals("fine", client.read(Response.parser()).getOk().getMessage());
            }
            assertEquals(List.of(b.toRealPath(), a.toRealPath()), seen.get(10, TimeUnit.SECONDS));
        }
    }

    @Test
    void tooManyDescriptorsDropTheRequestAndLeakNothing() throws Exception {
        Path sock = dir.resolve("vmd.sock");
        try (ControlSocket server = ControlSocket.bind(sock, 0600, -1)) {
            long before = openFds();
            CompletableFuture<Void> refused = CompletableFuture.runAsync(() -> {
                try (ControlSocket.Connection c = server.accept()) {
                    assertThrows(org.jvmd.proto.FrameException.class, () -> c.receive(Request.parser()));
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            try (ControlSocket.Connection client = ControlSocket.connectPassing(sock)) {
                List<Fd> many = new java.util.ArrayList<>();
                for (int i = 0; i < ControlSocket.MAX_FDS + 1; i++) {
                    many.add(LibC.open("/dev/null", LibC.O_RDONLY | LibC.O_CLOEXEC));
                }
                client.write(Request.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build(), many);
                refused.get(10, TimeUnit.SECONDS);
            }
            assertEquals(before, openFds(), "no descriptor of the refused request stays open");
        }
    }

    @Test
    void aPlainReadClosesDescriptorsItDoesNotWant() throws Exception {
        Path sock = dir.resolve("vmd.sock");
        try (ControlSocket server = ControlSocket.bind(sock, 0600, -1)) {
            long before = openFds();
            CompletableFuture<Request> got = CompletableFuture.supplyAsync(() -> {
                try (ControlSocket.Connection c = server.accept()) {
                    return c.read(Request.parser());
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            try (ControlSocket.Connection client = ControlSocket.connectPassing(sock)) {
                client.write(Request.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build(),
                        List.of(LibC.open("/dev/null", LibC.O_RDONLY | LibC.O_CLOEXEC)));
                assertTrue(got.get(10, TimeUnit.SECONDS).hasStatus());
            }
            assertEquals(before, openFds());
        }
    }
}
