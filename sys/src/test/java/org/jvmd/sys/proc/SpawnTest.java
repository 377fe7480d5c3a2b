package org.jvmd.sys.proc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.FdSlot;
import org.jvmd.proto.FromVionet;
import org.jvmd.proto.MemoryRegion;
import org.jvmd.proto.Reset;
import org.jvmd.proto.Shutdown;
import org.jvmd.proto.ToVionet;
import org.jvmd.proto.VionetInit;
import org.jvmd.sys.Errno;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.SysException;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.sys.memory.Memfd;

class SpawnTest {
    private static final long READY_MS = 30_000;
    private static final long MEM = 1 << 20;

    private static Spawner child(String mode) {
        Path log = Path.of("target", "spawn-" + mode + ".log");
        return Spawner.java("testchild", SysTestChild.class.getName())
                .jvmOptions("-XX:TieredStopAtLevel=1").args(mode).output(log);
    }

    /** The names of {@code pid}'s threads (comm, at most 15 characters). */
    private static List<String> threadNames(long pid) throws IOException {
        List<String> names = new ArrayList<>();
        try (Stream<Path> tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
            for (Path t : tasks.toList()) {
                try {
                    names.add(Files.readString(t.resolve("comm")).strip());
                } catch (NoSuchFileException e) {
                    // a thread that ended meanwhile
                }
            }
        }
        return names;
    }

    /** Waits up to 10 s for the drop child's log to show a native heap trim after {@code line}. */
    private static void awaitTrimAfter(String before, String line) throws InterruptedException {
        int from = before.indexOf(line);
        assertTrue(from >= 0, before);
        for (long end = System.nanoTime() + 10_000_000_000L; ; Thread.sleep(50)) {
            String now = log("drop");
            if (now.indexOf("[trimnative] Periodic Trim (", from) >= 0) {
                return;
            }
            assertTrue(System.nanoTime() < end, "no native heap trim after the drop: " + now);
        }
    }

    private static String log(String mode) {
        try {
            return Files.readString(Path.of("target", "spawn-" + mode + ".log"));
        } catch (IOException e) {
            return "(no log)";
        }
    }

    private static ToVionet init(String user, String chroot) {
        return ToVionet.newBuilder()
                .setInit(VionetInit.newBuilder().setTitle("testchild").setUser(user).setChroot(chroot)
                        .addRegions(MemoryRegion.newBuilder().setGuestPhys(0).setSize(MEM)))
                .addFds(FdSlot.newBuilder().setRole(FdRole.FD_MEMFD))
                .addFds(FdSlot.newBuilder().setRole(FdRole.FD_CALL))
                .build();
    }

    private static String readLine(MappedGuestMemory mem) throws Exception {
        byte[] b = new byte[512];
        mem.read(0, b, 0, b.length);
        String s = new String(b, StandardCharsets.UTF_8);
        return s.substring(0, s.indexOf('\n'));
    }

    private static Map<Integer, String> fdsOf(int pid) throws IOException {
        Map<Integer, String> out = new java.util.TreeMap<>();
        try (Stream<Path> s = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            for (Path p : s.toList()) {
                try {
                    out.put(Integer.parseInt(p.getFileName().toString()), Files.readSymbolicLink(p).toString());
                } catch (IOException gone) {
                    // closed while listing
                }
            }
        }
        return out;
    }

    @Test
    @SuppressWarnings("try")
    void aMemfdAndAnEventfdPassToAChildJvmThatWritesAndSignalsThroughThem() throws Exception {
        try (Fd memfd = Memfd.create("guest", MEM);
                MappedGuestMemory mem = MappedGuestMemory.map(memfd, MEM);
                EventFd call = EventFd.create(false);
                // deliberately NOT close-on-exec: the spawn must still not leak it
                Fd marker = LibC.memfdCreate("jvmd-leak-marker", 0);
                Child c = child("pass").spawn()) {
            c.channel().send(init("", ""), memfd.dup(), call.fd().dup());
            FromVionet ready = c.awaitReady(FromVionet.parser(), READY_MS);
            assertEquals(c.pid(), ready.getReady().getPid(), log("pass"));
            assertEquals(1, call.read());
            assertEquals("written by child " + c.pid(), readLine(mem));

            Map<Integer, String> fds = fdsOf(c.pid());
            assertTrue(fds.get(Spawner.CHANNEL_FD).startsWith("socket:"), fds.toString());
            assertFalse(fds.containsValue("/memfd:jvmd-leak-marker (deleted)"), "leaked into the child: " + fds);
            String parentEnd = Files.readSymbolicLink(Path.of("/proc/self/fd/" + c.channel().fd().num())).toString();
            assertFalse(fds.containsValue(parentEnd), "parent's channel end leaked: " + fds);
            // with Spawner's defaults the JVM runs its native heap trimmer (TRIM_NATIVE_HEAP)
            List<String> threads = threadNames(c.pid());
            assertTrue(threads.contains("Native Heap Tri"), threads.toString());

            c.channel().send(ToVionet.newBuilder().setShutdown(Shutdown.getDefaultInstance()).build());
            WaitStatus s = c.waitFor(10_000);
            assertNotNull(s);
            assertEquals(0, s.exitCode(), log("pass"));
        }
    }

    @Test
    void aDroppedChildRunsUnprivilegedConfinedAndFilteredWhileItsChannelAndFdsKeepWorking() throws Exception {
        Path empty = Files.createTempDirectory("jvmd-empty");
        Users.Ids vmd = Users.lookup("_vmd");
        Files.deleteIfExists(Path.of("target", "spawn-drop.log"));   // its log is read below
        try (Fd memfd = Memfd.create("guest", MEM);
                MappedGuestMemory mem = MappedGuestMemory.map(memfd, MEM);
                EventFd call = EventFd.create(false);
                // its native heap trimmed more often than the default, each trim logged
                Child c = child("drop").jvmOptions("-XX:TrimNativeHeapInterval=200", "-Xlog:trimnative").spawn()) {
            c.channel().send(init("_vmd", empty.toString()), memfd.dup(), call.fd().dup());
            c.awaitReady(FromVionet.parser(), READY_MS);
            assertEquals(1, call.read());

            List<String> status = Files.readAllLines(Path.of("/proc/" + c.pid() + "/status"));
            assertTrue(status.contains("Uid:\t" + vmd.uid() + "\t" + vmd.uid() + "\t" + vmd.uid() + "\t" + vmd.uid()),
                    status.toString());
            assertTrue(status.contains("Gid:\t" + vmd.gid() + "\t" + vmd.gid() + "\t" + vmd.gid() + "\t" + vmd.gid()),
                    status.toString());
            assertTrue(status.contains("Groups:\t" + vmd.gid() + " "), status.toString());
            assertTrue(status.contains("NoNewPrivs:\t1"), status.toString());
            assertTrue(status.contains("Seccomp:\t2"), status.toString());
            assertEquals(empty.toRealPath(), Files.readSymbolicLink(Path.of("/proc/" + c.pid() + "/root")));
            // every thread, not just the one that dropped (TSYNC, and glibc's setxid broadcast)
            try (Stream<Path> tasks = Files.list(Path.of("/proc/" + c.pid() + "/task"))) {
                for (Path t : tasks.toList()) {
                    List<String> ts = Files.readAllLines(t.resolve("status"));
                    assertTrue(ts.contains("Seccomp:\t2") && ts.contains("NoNewPrivs:\t1")
                            && ts.stream().anyMatch(l -> l.startsWith("Uid:\t" + vmd.uid() + "\t")), t + ": " + ts);
                }
            }

            assertEquals("written by child " + c.pid()
                    + "; open=EPERM socket=EPERM exec=failed thread=ok ioctl=EPERM setns=EPERM", readLine(mem),
                    log("drop"));
            // the one log format after the drop, its stack trace at debug (sys's org.jvmd.sys.log)
            String log = log("drop");
            assertTrue(log.contains("testchild: debug: logged after the drop: java.lang.IllegalStateException: with a trace\n"
                    + "\tat org.jvmd.sys.proc.SysTestChild."), log);

            // the JVM's native heap trimmer goes on after the drop (no system call of it refused)
            awaitTrimAfter(log, "logged after the drop");

            // after the drop, the channel still carries messages and descriptors
            try (EventFd second = EventFd.create(false)) {
                c.channel().send(ToVionet.newBuilder().setReset(Reset.getDefaultInstance())
                        .addFds(FdSlot.newBuilder().setRole(FdRole.FD_CALL)).build(), second.fd().dup());
                assertEquals(2, second.read());
            }
            c.channel().send(ToVionet.newBuilder().setShutdown(Shutdown.getDefaultInstance()).build());
            WaitStatus s = c.waitFor(10_000);
            assertNotNull(s, log("drop"));
            assertEquals(0, s.exitCode(), log("drop"));
        } finally {
            Files.deleteIfExists(empty);
        }
    }

    @Test
    void aChildThatDiesBeforeReadyIsAClearErrorNotAHang() throws Exception {
        try (Child c = child("die").spawn()) {
            ChildFailedException e = assertThrows(ChildFailedException.class,
                    () -> c.awaitReady(FromVionet.parser(), READY_MS));
            assertEquals("testchild exited with status 1 before Ready", e.getMessage());
            assertTrue(c.isReaped());
            assertFalse(Files.exists(Path.of("/proc/" + c.pid())));
        }
    }

    @Test
    void aChildThatNeverAnswersIsKilledAndReapedAtTheTimeout() throws Exception {
        try (Child c = child("hang").spawn()) {
            ChildFailedException e = assertThrows(ChildFailedException.class,
                    () -> c.awaitReady(FromVionet.parser(), 1500));
            assertEquals("testchild did not answer Ready within 1500 ms (killed)", e.getMessage());
            assertTrue(e.status().signaled());
            assertEquals(LibC.SIGKILL, e.status().signal());
            assertFalse(Files.exists(Path.of("/proc/" + c.pid())));
        }
    }

    @Test
    void aChildThatAnswersErrorFailsWithItsMessage() throws Exception {
        try (Child c = child("error").spawn()) {
            ChildFailedException e = assertThrows(ChildFailedException.class,
                    () -> c.awaitReady(FromVionet.parser(), READY_MS));
            assertEquals("testchild failed: open(/dev/net/tun): test failure (EACCES (Permission denied))",
                    e.getMessage());
            assertEquals(Errno.EACCES, e.errno());
        }
    }

    @Test
    void spawningAMissingBinaryFailsNamingTheCall() {
        SysException e = assertThrows(SysException.class,
                () -> PosixSpawn.spawn("/nonexistent/java", List.of("x"), List.of(), new int[0][], 3));
        assertEquals("posix_spawn(/nonexistent/java): ENOENT (No such file or directory)", e.getMessage());
    }
}
