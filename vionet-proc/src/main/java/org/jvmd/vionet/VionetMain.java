package org.jvmd.vionet;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.jvmd.proto.Error;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.FdSlot;
import org.jvmd.proto.Frames;
import org.jvmd.proto.FromVionet;
import org.jvmd.proto.MemoryRegion;
import org.jvmd.proto.Ready;
import org.jvmd.proto.ToVionet;
import org.jvmd.proto.VionetInit;
import org.jvmd.sys.Channel;
import org.jvmd.sys.ChildChannel;
import org.jvmd.sys.Fd;
import org.jvmd.sys.MappedGuestMemory;
import org.jvmd.sys.Received;
import org.jvmd.sys.Role;
import org.jvmd.sys.Shed;
import org.jvmd.sys.SysException;
import org.jvmd.sys.Tap;
import org.jvmd.virtio.device.Log;

/**
 * vionet-proc: the unprivileged virtio-net device process (vmd's vionet). Acquire, then
 * shed: it receives its channel (fd 3), the init message with the guest memfd, the tap,
 * the kick and call eventfds; maps guest memory, adopts the tap, closes everything else;
 * loads what it will need; drops to the unprivileged user in an empty chroot with a
 * seccomp filter that leaves no open, socket, exec or ioctl; answers Ready; and runs the
 * data path ({@link VionetLoop}, {@link Vionet}) until Shutdown or end of file.
 */
public final class VionetMain {
    /**
     * How long the parent has to send the init message. A parent may start vionet before it
     * sets its VM up (vmm-proc's development entry does), which under kvm-lab's emulator
     * takes tens of seconds; a parent that dies ends the wait at once (end of file).
     */
    private static final long INIT_TIMEOUT_MS = 180_000;

    static {
        Log.process("vionet");
    }

    private VionetMain() {}

    /** {@code --aot-training}: the start-up without a parent, for scripts/aot-cache (see {@link #train}). */
    static final String AOT_TRAINING = "--aot-training";

    public static void main(String[] args) {
        if (args.length == 1 && args[0].equals(AOT_TRAINING)) {
            System.exit(train());
            return;
        }
        Channel ch;
        try {
            ch = ChildChannel.inherit();
        } catch (SysException e) {
            System.err.println("vionet: no channel on fd 3: " + e.getMessage());
            System.exit(1);
            return;
        }
        int status;
        try {
            status = run(ch);
        } catch (Throwable t) {
            Log.warn("fatal: " + t);
            t.printStackTrace();
            status = 1;
        }
        System.exit(status);
    }

    static int run(Channel ch) throws IOException {
        Setup s;
        try {
            s = acquire(ch);
        } catch (IOException | RuntimeException e) {
            Log.warn("start-up failed: " + e.getMessage());
            answerError(ch, String.valueOf(e.getMessage()), e);
            return 1;
        }
        try {
            shed(s.init);
        } catch (IOException | RuntimeException e) {
            Log.warn("privilege drop failed: " + e.getMessage());
            answerError(ch, "privilege drop: " + e.getMessage(), e);
            return 1;
        }
        ch.send(ready());
        Log.debug("ready: tap " + s.tap.name() + ", features offered 0x" + Long.toHexString(s.cfg.offered()));
        return s.loop.run();
    }

    private static void answerError(Channel ch, String message, Exception e) {
        try {
            ch.send(FromVionet.newBuilder().setError(Error.newBuilder().setMessage(message)
                    .setErrno(e instanceof SysException se ? se.errno() : 0)).build());
        } catch (IOException | RuntimeException gone) {
            Log.warn("cannot answer the parent: " + gone.getMessage());
        }
    }

    private record Setup(VionetInit init, VionetConfig cfg, Tap tap, VionetLoop loop) {}

    /** Takes the init message and its descriptors; maps memory and adopts the tap. */
    private static Setup acquire(Channel ch) throws IOException {
        try (Received<ToVionet> r = ch.receive(ToVionet.parser(), INIT_TIMEOUT_MS)) {
            ToVionet m = r.message();
            if (!m.hasInit()) {
                throw new IOException("first message is " + m.getMsgCase() + ", not init");
            }
            VionetInit init = m.getInit();
            Log.title(init.getTitle());
            VionetConfig cfg = VionetConfig.from(init.getNic());
            if (init.getRegionsCount() == 0) {
                throw new IOException("init names no guest memory regions");
            }
            List<MappedGuestMemory.Range> ranges = new ArrayList<>();
            for (MemoryRegion g : init.getRegionsList()) {
                ranges.add(new MappedGuestMemory.Range(g.getGuestPhys(), g.getSize(), g.getMemfdOffset()));
            }
            MappedGuestMemory memory;
            try (Fd memfd = take(r, FdRole.FD_MEMFD, 0, true)) {
                memory = MappedGuestMemory.map(memfd, ranges);
            }
            Tap tap = Tap.adopt(take(r, FdRole.FD_TAP, 0, true), init.getNic().getTapName());
            Fd[] kicks = new Fd[3];
            kicks[Vionet.RX] = take(r, FdRole.FD_KICK, Vionet.RX, true);
            kicks[Vionet.TX] = take(r, FdRole.FD_KICK, Vionet.TX, true);
            kicks[Vionet.CTRL] = take(r, FdRole.FD_KICK, Vionet.CTRL, false);
            int vectors = 0;
            for (FdSlot slot : r.slots()) {
                if (slot.getRole() == FdRole.FD_CALL) {
                    vectors = Math.max(vectors, slot.getIndex() + 1);
                }
            }
            if (vectors > 2048) {   // MSI-X has at most 2048 vectors (PCI 3.0 §6.8.2)
                throw new IOException("FD_CALL index " + (vectors - 1) + " above the MSI-X maximum");
            }
            Fd[] calls = new Fd[vectors];
            for (int v = 0; v < vectors; v++) {
                calls[v] = take(r, FdRole.FD_CALL, v, false);
            }
            VionetLoop loop = new VionetLoop(ch, tap, kicks, calls);
            Vionet vionet = new Vionet(cfg, memory, new NativeTapPort(tap, memory), loop, loop);
            loop.attach(vionet);
            return new Setup(init, cfg, tap, loop);
            // every descriptor not taken is closed here
        }
    }

    private static Fd take(Received<ToVionet> r, FdRole role, int index, boolean required) throws IOException {
        for (FdSlot s : r.slots()) {
            if (s.getRole() == role && s.getIndex() == index) {
                return r.take(role, index);
            }
        }
        if (required) {
            throw new IOException("init carries no " + role + " #" + index);
        }
        return null;
    }

    /**
     * An AOT training run (JEP 514: the JVM records what this run loads and links, and
     * writes the cache at exit): what a real start does up to the drop, without a parent,
     * memory or tap, and without the drop itself (a chrooted, seccomp-filtered JVM could
     * not write its cache). Returns the exit status.
     */
    static int train() {
        try {
            shedding(VionetInit.getDefaultInstance()).preloadOnly();
            Frames.encode(VionetLoop.error("aot training"));
            return 0;
        } catch (IOException | RuntimeException e) {
            System.err.println("vionet: AOT training: " + e);
            return 1;
        }
    }

    /** Loads what the data path needs, then drops to the unprivileged user in an empty chroot. */
    private static void shed(VionetInit init) throws IOException {
        Path root = Role.VIONET.chroot(init.getChroot());
        shedding(init).chroot(root).drop();
        Log.debug("dropped to " + Role.VIONET.user(init.getUser()) + " in " + root);
    }

    /**
     * The drop of {@code init}'s user, chroot not yet set. It preloads vionet's own classes
     * and those of the modules it runs on, not every org.jvmd class on the class path
     * (vmm-proc's, whose class path vionet shares, never run here).
     */
    private static Shed shedding(VionetInit init) {
        FromVionet sample = ready();
        return Role.VIONET.shed(init.getUser())
                .preloadPackages("org.jvmd.vionet.", "org.jvmd.virtio.", "org.jvmd.sys.", "org.jvmd.proto.")
                .warmup(() -> warmup(sample));
    }

    private static FromVionet ready() {
        return FromVionet.newBuilder().setReady(Ready.newBuilder().setProcess(Log.title())
                .setPid((int) ProcessHandle.current().pid())).build();
    }

    /**
     * Exercises what runs after the drop, so that every class it touches is loaded while
     * files can still be opened: the messages both ways and a device core on heap memory.
     */
    private static void warmup(FromVionet sample) {
        try {
            Frames.encode(sample);
            Frames.encode(VionetLoop.error("warm-up"));
            for (ToVionet.MsgCase c : ToVionet.MsgCase.values()) {
                c.getNumber();
            }
            Warmup.run();
        } catch (IOException e) {
            throw new IllegalStateException("warm-up: " + e.getMessage(), e);
        }
    }
}
