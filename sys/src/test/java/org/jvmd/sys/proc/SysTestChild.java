package org.jvmd.sys.proc;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.Frames;
import org.jvmd.proto.FromVionet;
import org.jvmd.proto.Ready;
import org.jvmd.proto.ToVionet;
import org.jvmd.proto.VionetInit;
import org.jvmd.sys.Errno;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.Fd;
import org.jvmd.sys.Ioctls;
import org.jvmd.sys.LibC;
import org.jvmd.sys.Native;
import org.jvmd.sys.SysException;
import org.jvmd.sys.ipc.Channel;
import org.jvmd.sys.ipc.ChildChannel;
import org.jvmd.sys.ipc.PeerClosedException;
import org.jvmd.sys.ipc.Received;
import org.jvmd.sys.memory.MappedGuestMemory;

/**
 * The child JVM of the spawn tests. Modes (args[0]):
 * <ul>
 *   <li>{@code die}: exits with status 1 before Ready;</li>
 *   <li>{@code hang}: never answers;</li>
 *   <li>{@code error}: answers Error instead of Ready;</li>
 *   <li>{@code pass}: receives VionetInit with a memfd and an eventfd, writes a line into
 *       the memory, signals the eventfd, answers Ready, then serves {@link #serve};</li>
 *   <li>{@code drop}: as {@code pass}, but sheds privilege (user and chroot from the
 *       VionetInit) first and writes a report of what it could no longer do.</li>
 * </ul>
 */
public final class SysTestChild {
    private SysTestChild() {}

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "die" -> System.exit(1);
            case "hang" -> {
                Channel ch = ChildChannel.inherit();
                Thread.sleep(60_000);
                ch.close();
            }
            case "error" -> {
                Channel ch = ChildChannel.inherit();
                ch.send(FromVionet.newBuilder().setError(org.jvmd.proto.Error.newBuilder()
                        .setMessage("open(/dev/net/tun): test failure").setErrno(Errno.EACCES)).build());
                ch.receive(ToVionet.parser(), 10_000).close();
            }
            case "pass", "drop" -> run(args[0].equals("drop"));
            default -> throw new IllegalArgumentException(args[0]);
        }
    }

    private static void run(boolean drop) throws Exception {
        Channel ch = ChildChannel.inherit();
        MappedGuestMemory mem;
        EventFd call;
        VionetInit init;
        try (Received<ToVionet> r = ch.receive(ToVionet.parser(), 30_000)) {
            init = r.message().getInit();
            try (Fd memfd = r.take(FdRole.FD_MEMFD, 0)) {
                mem = MappedGuestMemory.map(memfd, init.getRegions(0).getSize());
            }
            call = new EventFd(r.take(FdRole.FD_CALL, 0));
        }
        String report = "written by child " + ProcessHandle.current().pid();
        if (drop) {
            org.jvmd.sys.log.Logs.title(init.getTitle());
            FromVionet ready = readyMessage();
            Shed.to(init.getUser()).chroot(Path.of(init.getChroot()))
                    .preloadPackages("org.jvmd.")
                    .warmup(() -> {
                        try {
                            Frames.encode(ready);
                        } catch (IOException e) {
                            throw new IllegalStateException(e);
                        }
                    })
                    .seccomp(Seccomp.device(true))
                    .drop();
            report += "; open=" + attempt(() -> LibC.open("/etc/hostname", LibC.O_RDONLY).close())
                    + " socket=" + attempt(() -> LibC.socket(2 /* AF_INET */, 1, 0).close())
                    + " exec=" + attempt(() -> new ProcessBuilder("/bin/true").start().waitFor())
                    + " thread=" + newThreadWorks()
                    + " ioctl=" + attempt(() -> LibC.ioctl(call.fd().num(), Ioctls.TUNGETIFF, Native.scratch()))
                    // LibC links each call on first use: setns was never called before the
                    // drop, so this links it afterwards (a link failure would read "failed").
                    + " setns=" + attempt(() -> LibC.setns(-1, LibC.CLONE_NEWNET));
            // the log backend after the drop: a logger made now, on a new thread (as a vCPU's
            // first debug line), with a stack trace: no zone, locale or class-path file needed
            Thread t = Thread.ofPlatform().start(() -> {
                org.jvmd.sys.log.Logs.verbose(true);
                System.getLogger("org.jvmd.after.drop").log(System.Logger.Level.DEBUG, "logged after the drop",
                        new IllegalStateException("with a trace"));
                org.jvmd.sys.log.Logs.verbose(false);
            });
            t.join();
        }
        byte[] b = (report + "\n").getBytes(StandardCharsets.UTF_8);
        mem.write(0, b, 0, b.length);
        call.signal();
        ch.send(readyMessage());
        serve(ch);
    }

    /** After Ready: signal each FD_CALL received with a Reset; exit on Shutdown or end of file. */
    private static void serve(Channel ch) throws IOException {
        while (true) {
            try (Received<ToVionet> r = ch.receive(ToVionet.parser(), 30_000)) {
                switch (r.message().getMsgCase()) {
                    case RESET -> {
                        try (EventFd e = new EventFd(r.take(FdRole.FD_CALL, 0))) {
                            e.signal(2);
                        }
                    }
                    case SHUTDOWN -> System.exit(0);
                    default -> System.exit(3);
                }
            } catch (PeerClosedException e) {
                System.exit(0);
            }
        }
    }

    private static FromVionet readyMessage() {
        return FromVionet.newBuilder().setReady(Ready.newBuilder().setProcess("testchild")
                .setPid((int) ProcessHandle.current().pid())).build();
    }

    interface Attempt {
        void run() throws Exception;
    }

    /** "ok", the errno name of a SysException, or "failed" for another exception. */
    private static String attempt(Attempt a) {
        try {
            a.run();
            return "ok";
        } catch (SysException e) {
            return e.errnoName();
        } catch (Exception e) {
            return "failed";
        }
    }

    private static String newThreadWorks() throws InterruptedException {
        int[] box = new int[1];
        Thread t = new Thread(() -> box[0] = 42);
        t.start();
        t.join();
        System.gc();
        return box[0] == 42 ? "ok" : "broken";
    }
}
