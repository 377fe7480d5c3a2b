package org.jvmd.sys.device;

import com.google.protobuf.MessageLite;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.jvmd.proto.Error;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.FdSlot;
import org.jvmd.proto.Frames;
import org.jvmd.proto.MemoryRegion;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.SysException;
import org.jvmd.sys.ipc.Channel;
import org.jvmd.sys.ipc.ChildChannel;
import org.jvmd.sys.ipc.PeerClosedException;
import org.jvmd.sys.ipc.Received;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.sys.proc.Role;
import org.jvmd.sys.proc.Shed;
import org.jvmd.sys.log.Logs;

/**
 * The life of a device process (vionet-proc, vioblk-proc), as vmd's {@code proc_run}:
 * inherit the channel (fd 3) → when no init is queued yet, load and warm up ahead and wait
 * for it while the parent keeps the channel open ({@link #warmAhead}) → take the init message
 * and its descriptors → load and warm up what runs after the drop → drop through the
 * role's row ({@link Role#shed}: its user, an empty chroot, no_new_privs, its seccomp
 * profile) → Ready, or Error and exit status 1 → serve until Shutdown or end of file. The
 * role's own parts (what init carries, what to preload, the Ready message, the loop) come
 * from its {@link Device}; {@code --aot-training} runs the start-up up to the drop without
 * a parent, for scripts/aot-cache.
 */
public final class DeviceMain<S extends DeviceMain.Setup> {
    private static final System.Logger LOG = System.getLogger(DeviceMain.class.getName());

    /**
     * How long a message the parent has begun to send may take to arrive whole; control-proc's
     * wait for its init. A device process that finds nothing queued waits for init as long as
     * the parent keeps the channel open ({@link #warmAhead}): a parent may start it before it
     * sets its VM up (vmm-proc does), which under kvm-lab's emulator takes tens of seconds, or
     * before it has a VM at all (vmd's warm pool); a parent that dies ends the wait at once.
     */
    public static final long INIT_TIMEOUT_MS = 180_000;
    /** {@code --aot-training}: the start-up without a parent, for scripts/aot-cache (see {@link #train}). */
    public static final String AOT_TRAINING = "--aot-training";

    /** What a device took from its init message: the drop's user and chroot as the parent named them. */
    public interface Setup {
        String user();

        String chroot();
    }

    /** A device process's own parts. */
    public interface Device<S extends Setup> {
        /**
         * Receives the init message (queued by now, or end of file; {@link Logs#title} set
         * from it) and its descriptors; maps memory and builds the device core and its loop.
         * What it took is closed when it fails; descriptors it did not take are closed.
         */
        S acquire(Channel ch) throws IOException;

        /** Adds the device's preloads and warm-up to its role's drop; {@code s} is null in an AOT training run. */
        Shed shedding(Shed shed, S s);

        /** The Ready message (the role's reply type). */
        MessageLite ready(S s);

        /** What the debug line after Ready says, after {@code "ready: "}. */
        String describe(S s);

        /** The role's reply carrying {@code e}. */
        MessageLite error(Error e);

        /** Serves the guest until Shutdown or end of file; returns the exit status. */
        int serve(S s) throws IOException;
    }

    private final String name;
    private final Role role;
    private final Device<S> device;

    /** The process {@code name} ({@code vionet}: its log's title until init names one) of {@code role}. */
    public DeviceMain(String name, Role role, Device<S> device) {
        this.name = name;
        this.role = role;
        this.device = device;
        Logs.title(name);
    }

    /** The process's main: {@code --aot-training}, or the life above; exits the JVM with its status. */
    public void main(String[] args) {
        if (args.length == 1 && args[0].equals(AOT_TRAINING)) {
            System.exit(train());
            return;
        }
        Channel ch;
        try {
            ch = ChildChannel.inherit();
        } catch (SysException e) {
            System.err.println(name + ": no channel on fd 3: " + e.getMessage());
            System.exit(1);
            return;
        }
        int status;
        try {
            status = run(ch);
        } catch (Throwable t) {
            LOG.log(Level.ERROR, "fatal", t);   // its stack trace at debug
            status = 1;
        }
        System.exit(status);
    }

    /** Acquire, shed, Ready, serve on {@code ch}; returns the exit status. */
    public int run(Channel ch) throws IOException {
        if (LibC.poll(ch.fd(), LibC.POLLIN, 0) == 0) {
            warmAhead(ch);
        }
        S s;
        try {
            s = device.acquire(ch);
        } catch (PeerClosedException e) {
            // the parent let go of this process before giving it a device (its VM failed to
            // start, or the warm vmm-proc that started it ahead was closed): nothing to report
            LOG.log(Level.DEBUG, "channel closed before init: exiting");
            return 0;
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "start-up failed: " + e.getMessage());
            answerError(ch, String.valueOf(e.getMessage()), e);
            return 1;
        }
        try {
            shed(s);
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "privilege drop failed: " + e.getMessage());
            answerError(ch, "privilege drop: " + e.getMessage(), e);
            return 1;
        }
        ch.send(device.ready(s));
        LOG.log(Level.DEBUG, "ready: " + device.describe(s));
        return device.serve(s);
    }

    /**
     * No init queued yet: the parent started this process ahead of its device (vmm-proc starts
     * its devices' JVMs before it builds the VM, and a vmm-proc in vmd's warm pool starts one
     * NIC's before it has a VM). It loads and warms up now what the drop would (as an AOT
     * training run does: nothing of a device yet, no descriptor but the channel), so that the
     * drop after init finds it done, and then waits for init as long as the parent keeps the
     * channel open; a parent that lets go or dies ends the wait at once (end of file). A
     * failed warm-up is only logged: the drop loads the same again and reports what fails.
     */
    private void warmAhead(Channel ch) throws IOException {
        long t0 = System.nanoTime();
        try {
            preloadWithoutDevice();
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.DEBUG, "warm-up ahead of init failed (the drop loads it again): " + e.getMessage());
        }
        LOG.log(Level.DEBUG, "warmed up ahead of init in " + (System.nanoTime() - t0) / 1_000_000 + " ms");
        LibC.poll(ch.fd(), LibC.POLLIN, -1);
    }

    /** What the drop loads and warms up, without a device yet (AOT training, or ahead of init). */
    private void preloadWithoutDevice() throws IOException {
        device.shedding(role.shed(""), null).preloadOnly();
    }

    private void answerError(Channel ch, String message, Exception e) {
        try {
            ch.send(device.error(Error.newBuilder().setMessage(message)
                    .setErrno(e instanceof SysException se ? se.errno() : 0).build()));
        } catch (IOException | RuntimeException gone) {
            LOG.log(Level.WARNING, "cannot answer the parent: " + gone.getMessage());
        }
    }

    /** Loads what the data path needs, then drops to the unprivileged user in an empty chroot. */
    private void shed(S s) throws IOException {
        Path root = role.chroot(s.chroot());
        device.shedding(role.shed(s.user()), s).chroot(root).drop();
        LOG.log(Level.DEBUG, "dropped to " + role.user(s.user()) + " in " + root);
    }

    /**
     * An AOT training run (JEP 514: the JVM records what this run loads and links, and
     * writes the cache at exit): what a real start does up to the drop, without a parent,
     * memory or device, and without the drop itself (a chrooted, seccomp-filtered JVM could
     * not write its cache). Returns the exit status.
     */
    public int train() {
        try {
            preloadWithoutDevice();
            Frames.encode(device.error(Error.newBuilder().setMessage("aot training").build()));
            return 0;
        } catch (IOException | RuntimeException e) {
            System.err.println(name + ": AOT training: " + e);
            return 1;
        }
    }

    /** Guest memory as init describes it: at least one region, each at an offset into the memfd. */
    public static List<MappedGuestMemory.Range> ranges(List<MemoryRegion> regions) throws IOException {
        if (regions.isEmpty()) {
            throw new IOException("init names no guest memory regions");
        }
        List<MappedGuestMemory.Range> ranges = new ArrayList<>();
        for (MemoryRegion g : regions) {
            ranges.add(new MappedGuestMemory.Range(g.getGuestPhys(), g.getSize(), g.getMemfdOffset()));
        }
        return ranges;
    }

    /** The descriptor of {@code role} #{@code index}; null when it is absent and not {@code required}. */
    public static Fd take(Received<?> r, FdRole role, int index, boolean required) throws IOException {
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

    /** The irqfds, one per MSI-X vector up to the highest FD_CALL given ({@code calls[v]} null when absent). */
    public static Fd[] calls(Received<?> r) throws IOException {
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
        return calls;
    }
}
