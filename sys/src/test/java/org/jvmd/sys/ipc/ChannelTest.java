package org.jvmd.sys.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.Size;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.FdSlot;
import org.jvmd.proto.FrameException;
import org.jvmd.proto.Frames;
import org.jvmd.proto.Ready;
import org.jvmd.proto.ToVionet;
import org.jvmd.proto.VionetInit;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.memory.Memfd;

class ChannelTest {
    static int openFds() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return (int) s.count();
        }
    }

    private static ToVionet initWith(FdRole... roles) {
        ToVionet.Builder b = ToVionet.newBuilder().setInit(VionetInit.newBuilder().setTitle("vm/t/vionet0"));
        for (int i = 0; i < roles.length; i++) {
            b.addFds(FdSlot.newBuilder().setRole(roles[i]).setIndex(i));
        }
        return b.build();
    }

    @Example
    void messageAndDescriptorsArriveAndTheSenderCopiesAreClosed() throws Exception {
        Channel[] ch = Channel.pair();
        try (Channel a = ch[0]; Channel b = ch[1]) {
            EventFd ev = EventFd.create(true);
            Fd memfd = Memfd.create("t", 4096);
            Fd evDup = ev.fd().dup();
            a.send(initWith(FdRole.FD_MEMFD, FdRole.FD_KICK), memfd, evDup);
            assertFalse(memfd.isOpen());
            assertFalse(evDup.isOpen());
            try (Received<ToVionet> r = b.receive(ToVionet.parser(), 1000)) {
                assertEquals("vm/t/vionet0", r.message().getInit().getTitle());
                assertEquals(2, r.fdCount());
                try (Fd gotMem = r.take(FdRole.FD_MEMFD, 0); Fd gotEv = r.take(FdRole.FD_KICK, 1)) {
                    assertTrue(LibC.isCloseOnExec(gotEv.num()));
                    EventFd.signal(gotEv, 7);
                    assertEquals(7, ev.read());
                    assertTrue(Files.readSymbolicLink(Path.of("/proc/self/fd/" + gotMem.num())).toString()
                            .startsWith("/memfd:t"));
                }
            }
            ev.close();
        }
    }

    @Example
    void malformedFramesAreRejectedClearlyWithoutLeakingAndTheReceiverSurvives() throws Exception {
        int before = openFds();
        Fd[] p = Channel.socketpair();
        try (Channel a = new Channel(p[0], 1024, 4); Channel b = new Channel(p[1], 64, 2)) {
            byte[] ok = Frames.encode(initWith(FdRole.FD_TAP), 64);

            // garbage: a length prefix that never ends, with a descriptor attached
            byte[] garbage = {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff};
            try (EventFd e = EventFd.create(false)) {
                a.sendRaw(garbage, garbage.length, e.fd());
            }
            assertRejected(b, "garbage frame");

            // oversized: longer than the receive buffer (cap + prefix), with a descriptor
            byte[] big = new byte[200];
            try (EventFd e = EventFd.create(false)) {
                a.sendRaw(big, big.length, e.fd());
            }
            assertRejected(b, "frame too large");

            // a prefix declaring more than the cap
            byte[] declaresTooMuch = {(byte) 0x80, 0x02, 1, 2, 3};
            a.sendRaw(declaresTooMuch, declaresTooMuch.length);
            assertRejected(b, "frame too large");

            // truncated: the prefix promises more than the packet holds
            a.sendRaw(ok, ok.length - 3);
            assertRejected(b, "frame truncated");

            // descriptors the message does not describe
            try (EventFd e1 = EventFd.create(false); EventFd e2 = EventFd.create(false)) {
                a.sendRaw(ok, ok.length, e1.fd(), e2.fd());
            }
            assertRejected(b, "describes 1 fds but carries 2");

            // more descriptors than the receiver takes: control data truncated by the kernel
            try (EventFd e1 = EventFd.create(false); EventFd e2 = EventFd.create(false);
                    EventFd e3 = EventFd.create(false)) {
                a.sendRaw(ok, ok.length, e1.fd(), e2.fd(), e3.fd());
            }
            assertRejected(b, "more fds than this channel takes");

            // an fd on a message type that cannot describe it
            byte[] ready = Frames.encode(Ready.newBuilder().setPid(1).build());
            try (EventFd e = EventFd.create(false)) {
                a.sendRaw(ready, ready.length, e.fd());
            }
            FrameException f = assertThrows(FrameException.class, () -> b.receive(Ready.parser(), 1000));
            assertTrue(f.getMessage().contains("cannot describe"), f.getMessage());

            // an empty packet is not a frame (and not end of file)
            a.sendRaw(new byte[0], 0);
            assertRejected(b, "empty frame");

            // and the channel still carries a good frame
            try (EventFd e = EventFd.create(false)) {
                a.send(initWith(FdRole.FD_TAP), e.fd().dup());
            }
            try (Received<ToVionet> r = b.receive(ToVionet.parser(), 1000)) {
                assertEquals(1, r.fdCount());
            }
        }
        assertEquals(before, openFds());
    }

    private static void assertRejected(Channel b, String why) {
        FrameException f = assertThrows(FrameException.class, () -> b.receive(ToVionet.parser(), 1000));
        assertTrue(f.getMessage().contains(why), "expected '" + why + "' in: " + f.getMessage());
    }

    @Example
    void peerCloseIsReportedAsSuchAfterQueuedMessages() throws Exception {
        Channel[] ch = Channel.pair();
        try (Channel b = ch[1]) {
            ch[0].send(Ready.newBuilder().setPid(42).build());
            ch[0].close();
            try (Received<Ready> r = b.receive(Ready.parser(), 1000)) {
                assertEquals(42, r.message().getPid());
            }
            assertThrows(PeerClosedException.class, () -> b.receive(Ready.parser(), 1000));
        }
    }

    @Example
    void sendingToAClosedPeerFailsAsPeerClosedAndStillClosesTheFds() throws Exception {
        Channel[] ch = Channel.pair();
        ch[1].close();
        try (Channel a = ch[0]) {
            Fd e = LibC.eventfd(0, LibC.EFD_CLOEXEC);
            assertThrows(PeerClosedException.class, () -> a.send(Ready.getDefaultInstance(), e));
            assertFalse(e.isOpen());
        }
    }

    @Example
    void closingWakesAReceiverBlockedInAnotherThread() throws Exception {
        Channel[] ch = Channel.pair();
        try (Channel a = ch[0]) {
            java.util.concurrent.atomic.AtomicInteger tid = new java.util.concurrent.atomic.AtomicInteger();
            java.util.concurrent.CompletableFuture<Throwable> blocked = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                tid.set(LibC.gettid());
                try {
                    ch[1].receive(Ready.parser(), -1).close();
                    return null;
                } catch (Throwable t) {
                    return t;
                }
            });
            BlockedThreads.awaitSyscall(tid, 7); // poll
            ch[1].close();
            Throwable t = blocked.get(10, java.util.concurrent.TimeUnit.SECONDS);
            assertTrue(t instanceof IOException, String.valueOf(t));
            assertThrows(PeerClosedException.class, () -> a.receive(Ready.parser(), 1000));
        }
    }

    @Example
    @SuppressWarnings("try")
    void receiveTimesOut() throws Exception {
        Channel[] ch = Channel.pair();
        try (Channel a = ch[0]; Channel b = ch[1]) {
            long t0 = System.nanoTime();
            assertThrows(SocketTimeoutException.class, () -> b.receive(Ready.parser(), 50));
            assertTrue(System.nanoTime() - t0 >= 50_000_000L);
        }
    }

    /** Whatever bytes arrive, the receiver answers with a message or a FrameException, and leaks nothing. */
    @Property(tries = 200)
    void arbitraryPacketsNeverEscapeAsAnythingButFrameException(@ForAll @Size(max = 80) byte[] packet,
            @ForAll boolean withFd) throws Exception {
        Fd[] p = Channel.socketpair();
        try (Channel a = new Channel(p[0], 1024, 4); Channel b = new Channel(p[1], 64, 2)) {
            int before = openFds();
            if (withFd) {
                try (EventFd e = EventFd.create(false)) {
                    a.sendRaw(packet, packet.length, e.fd());
                }
            } else {
                a.sendRaw(packet, packet.length);
            }
            try (Received<ToVionet> r = b.receive(ToVionet.parser(), 1000)) {
                assertEquals(withFd ? 1 : 0, r.fdCount());
            } catch (FrameException expected) {
                // rejected: fine
            }
            assertEquals(before, openFds());
        }
    }
}
