package org.jvmd.vmm;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.SocketTimeoutException;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import com.google.protobuf.MessageLite;
import org.jvmd.proto.Error;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.FromVmm;
import org.jvmd.proto.MemoryUsage;
import org.jvmd.proto.Ready;
import org.jvmd.proto.StatsReply;
import org.jvmd.proto.StopVm;
import org.jvmd.proto.Termination;
import org.jvmd.proto.ToVmm;
import org.jvmd.proto.VmConfig;
import org.jvmd.proto.VmPaused;
import org.jvmd.proto.VmStarted;
import org.jvmd.proto.VmTerminated;
import org.jvmd.proto.VmUnpaused;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.SysException;
import org.jvmd.sys.ipc.Channel;
import org.jvmd.sys.ipc.ChildChannel;
import org.jvmd.sys.ipc.PeerClosedException;
import org.jvmd.sys.ipc.Received;
import org.jvmd.sys.log.Logs;
import org.jvmd.sys.kvm.Kvm;
import org.jvmd.sys.proc.Child;
import org.jvmd.sys.proc.Role;
import org.jvmd.sys.proc.Sched;
import org.jvmd.sys.proc.WaitStatus;
import org.jvmd.vmm.blk.VioblkProxy;
import org.jvmd.vmm.blk.VmDisks;
import org.jvmd.vmm.boot.BootFile;
import org.jvmd.vmm.boot.BootException;
import org.jvmd.vmm.net.VionetProxy;
import org.jvmd.vmm.net.VmNics;

/**
 * vmm-proc started by vmd: the channel on fd 3 delivers {@code StartVm} with the
 * descriptors (FD_KVM, FD_KERNEL, optionally FD_INITRD, FD_LOG, FD_CONSOLE (without it the
 * process opens a pty of its own), FD_TAP per NIC, FD_DISK per disk and layer). Each disk becomes a virtio-blk device served by its own vioblk-proc, in
 * configuration order after the NICs' devices (disk 0 is the guest's {@code /dev/vda}). The
 * process builds and loads the VM, sheds its privileges (always: to the config's user and
 * chroot, or {@link Role#VMM}'s defaults {@code _vmd} and {@code /var/empty} when they are empty),
 * answers {@code Ready} (or {@code Error} and exits), starts the vCPUs and reports
 * {@code VmStarted}; then it serves pause/unpause/stop until the VM ends, reports
 * {@code VmTerminated} and exits. The channel closing means vmd is gone: the VM stops.
 * StartVm is waited for without a timeout, so that vmd can keep processes spawned ahead (its
 * warm pool, {@code vmd --warm-pool}): such a process warms up and waits, holding nothing but
 * its channel; closed before StartVm, the channel ends it with status 0.
 */
final class VmmChild {
    private static final System.Logger LOG = System.getLogger(VmmChild.class.getName());

    /** Graceful stop: how long the guest gets after Ctrl-Alt-Del when StopVm gives no timeout. */
    static final long DEFAULT_STOP_TIMEOUT_MS = 30_000;
    static final long PAUSE_TIMEOUT_MS = 10_000;
    /** How long each NIC's vionet has to answer a stats request. */
    static final long STATS_TIMEOUT_MS = 5_000;
    /** How often vmd hears the guest memory in use (vmctl status's CURMEM), when it changed. */
    static final long MEMORY_REPORT_MS = 1_000;

    private final Channel channel;
    private final List<Fd> held = new ArrayList<>();
    private String title = "vm";
    private VmmMain.Booted booted;
    private VmNics nics; // the NICs' vionet-procs (net.VmNics)
    private VmDisks disks; // the disks' vioblk-procs (blk.VmDisks)
    private ConsolePty pty; // the serial console's pty (vmctl console)
    private final List<Child> earlyNics = new ArrayList<>(); // vionet-procs started ahead, until attached
    private final List<Child> earlyDisks = new ArrayList<>(); // vioblk-procs started ahead, until attached
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "vm/stop-timer");
        t.setDaemon(true);
        return t;
    });

    /** The last MemoryUsage sent, -1 before the first. */
    private long reportedResident = -1;

    private VmmChild(Channel channel) {
        this.channel = channel;
    }

    static int run() {
        Channel ch;
        try {
            ch = ChildChannel.inherit();
        } catch (SysException e) {
            System.err.println("vmm: no channel on fd 3 (" + e.getMessage() + "); for a development run pass --kernel");
            return VmmMain.EXIT_USAGE;
        }
        Logs.title("vm");   // until StartVm names the VM
        try (ch) {
            return new VmmChild(ch).serve();
        }
    }

    private synchronized void send(MessageLite m) {
        try {
            channel.send(m);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "cannot reach vmd: " + e.getMessage());
        }
    }

    private void sendError(String message, int errno) {
        LOG.log(Level.WARNING, message);
        sendErrorOnly(message, errno);
    }

    /** The start failed: the log line has the title already, vmd's Error carries it. */
    private void startFailed(String message, int errno) {
        LOG.log(Level.WARNING, message);
        sendErrorOnly(title + ": " + message, errno);
    }

    private void sendErrorOnly(String message, int errno) {
        send(FromVmm.newBuilder().setError(Error.newBuilder().setMessage(message).setErrno(errno)).build());
    }

    private int serve() {
        try {
            Received<ToVmm> first = awaitStart();
            if (first == null) {
                // vmd let go of this process before giving it a VM (its warm pool closed, or vmd ended)
                LOG.log(Level.DEBUG, "channel closed before StartVm: exiting");
                return finish(0); // quietly: nothing was started
            }
            try (Received<ToVmm> r = first) {
                if (!r.message().hasStart()) {
                    sendError("expected StartVm first, got " + r.message().getMsgCase(), 0);
                    return VmmMain.EXIT_ERROR;
                }
                // a member of vmd's warm pool ran at SCHED_IDLE until vmd, handing it this VM,
                // made it ordinary; once more here for a spare vionet-proc whose spawn was under
                // way at that moment (nothing to do, and no privilege needed, for any other)
                Sched.normal(LibC.getpid());
                VmConfig c = r.message().getStart().getConfig();
                title = "vm/" + c.getName();
                Logs.title(title);
                booted = setUp(c, r);
            }
        } catch (SysException e) {
            startFailed(e.getMessage(), e.errno());
            return finish(VmmMain.EXIT_ERROR);
        } catch (VmmException | BootException | IOException | RuntimeException e) {
            startFailed(e.getMessage(), 0);
            return finish(VmmMain.EXIT_ERROR);
        }
        Vm vm = booted.vm();
        send(FromVmm.newBuilder().setReady(Ready.newBuilder().setProcess(title).setPid(LibC.getpid())).build());
        vm.start();
        reportMemory(vm); // before VmStarted: the first vmctl status after start shows it
        send(FromVmm.newBuilder().setStarted(VmStarted.newBuilder().setPid(LibC.getpid()).setTty(pty.path())).build());
        timer.scheduleWithFixedDelay(() -> reportMemory(vm), MEMORY_REPORT_MS, MEMORY_REPORT_MS, TimeUnit.MILLISECONDS);
        Thread.ofPlatform().daemon().name(title + "/control").start(this::controlLoop);
        VmExit e = vm.exit().join();
        booted.console().flush();
        long cs = (System.nanoTime() - vm.startNanos()) / 10_000_000;   // no String.format: no locale data after the drop
        LOG.log(Level.INFO, e + " after " + cs / 100 + "." + (cs % 100 < 10 ? "0" : "") + cs % 100 + " s");
        send(FromVmm.newBuilder().setTerminated(VmTerminated.newBuilder()
                .setHow(termination(e.kind())).setReason(e.reason())).build());
        return finish(VmmMain.exitStatus(e));
    }

    /**
     * The first message, waited for as long as vmd keeps the channel open: a process vmd spawned
     * for a VM finds StartVm queued (vmd sends it at once, while this JVM starts); one vmd keeps
     * in its warm pool finds nothing yet, warms up ({@link #warmUp}) and then waits, without a
     * timeout, until vmd gives it a VM. Both go on the same way from StartVm. Null when vmd
     * closed the channel first.
     */
    private Received<ToVmm> awaitStart() throws IOException {
        try {
            return channel.receive(ToVmm.parser(), 0);
        } catch (SocketTimeoutException e) {
            warmUp();
            startSpareNic();
        } catch (PeerClosedException e) {
            return null;
        }
        try {
            return channel.receive(ToVmm.parser(), -1);
        } catch (PeerClosedException e) {
            return null;
        }
    }

    /**
     * What a process waiting for its VM can do ahead: load the classes its drop preloads
     * ({@link VmmMain#PRELOAD}, the native bindings, the log backend) and set up the channels'
     * messages, none of which depends on the VM. Not its native calls' links: linking all of
     * LibC's downcalls ahead cost an idle waiting process 17 MiB more PSS for 0.1 s less after
     * StartVm, on the host; the messages cost 9-11 MiB without an AOT cache, 4.5 MiB with one
     * trained on this path (much of it a VM with a device pays anyway), for 0.17 s. It holds
     * nothing meanwhile (no descriptor but its channel and its spare vionet-proc's,
     * {@link #startSpareNic}; no VM, no secret) and keeps root: the drop, and spawning any
     * further device process, come after StartVm, as for a process spawned for its VM. The
     * drop preloads again; what is loaded here is not loaded twice.
     */
    static void warmUp() {
        long t0 = System.nanoTime();
        try {
            Role.VMM.shed("").preloadPackages(VmmMain.PRELOAD).preloadOnly();
            warmUpMessages();
        } catch (IOException | RuntimeException e) {
            // the drop's own preload meets it again and fails the start with its message
            LOG.log(Level.DEBUG, "warm-up: " + e.getMessage());
        }
        LOG.log(Level.DEBUG, "waiting for StartVm (warmed up in " + (System.nanoTime() - t0) / 1_000_000 + " ms)");
    }

    /**
     * A process waiting in vmd's warm pool also starts the vionet-proc of its VM's first NIC
     * (most VMs have one): that JVM's start, the longest part of a VM's start after vmm-proc's
     * own, is then behind it too. The spare warms up and waits for its init as this process
     * waits for StartVm ({@code DeviceMain}), holding nothing but its channel; it is named after
     * the VM's NIC when one takes it, closed when the VM has no NIC or this process ends.
     * Failing to start it is no error: the NIC's vionet-proc is then started after StartVm.
     */
    private void startSpareNic() {
        try {
            earlyNics.add(VionetProxy.startEarly("vionet (spare)", null, null));
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.DEBUG, "no spare vionet-proc: " + e.getMessage());
        }
    }

    /**
     * The messages of vmd's channel and of the device channels, each built, encoded and parsed
     * once: protobuf sets up its descriptors and parsers on first use (two hundred classes and
     * a third of a waiting process's time from StartVm to its first failure, on the host).
     */
    static void warmUpMessages() throws IOException {
        ToVmm start = ToVmm.newBuilder().setStart(org.jvmd.proto.StartVm.newBuilder().setConfig(VmConfig.newBuilder()
                        .setName("warm-up").setMemoryBytes(1).setVcpus(1).setCmdline("-")
                        .addNics(org.jvmd.proto.NicConfig.newBuilder().setIndex(0).setTapName("-")
                                .setMac(com.google.protobuf.ByteString.copyFrom(new byte[6])))
                        .addDisks(org.jvmd.proto.DiskConfig.newBuilder().setIndex(0).setPath("-"))))
                .addFds(org.jvmd.proto.FdSlot.newBuilder().setRole(FdRole.FD_KVM)).build();
        ToVmm.parser().parseFrom(start.toByteArray());
        FromVmm.parser().parseFrom(FromVmm.newBuilder().setReady(Ready.newBuilder().setProcess("-").setPid(1))
                .build().toByteArray());
        FromVmm.parser().parseFrom(FromVmm.newBuilder().setError(Error.newBuilder().setMessage("-").setErrno(1))
                .build().toByteArray());
        org.jvmd.proto.ToVionet.parser().parseFrom(org.jvmd.proto.ToVionet.newBuilder()
                .setInit(org.jvmd.proto.VionetInit.getDefaultInstance()).build().toByteArray());
        org.jvmd.proto.FromVionet.parser().parseFrom(org.jvmd.proto.FromVionet.newBuilder()
                .setReady(Ready.newBuilder().setProcess("-")).build().toByteArray());
        org.jvmd.proto.ToVioblk.parser().parseFrom(org.jvmd.proto.ToVioblk.newBuilder()
                .setInit(org.jvmd.proto.VioblkInit.getDefaultInstance()).build().toByteArray());
        org.jvmd.proto.FromVioblk ready = org.jvmd.proto.FromVioblk.parser().parseFrom(
                org.jvmd.proto.FromVioblk.newBuilder().setReady(org.jvmd.proto.VioblkReady.getDefaultInstance()).build()
                        .toByteArray());
        // Child.awaitReady finds a device's Ready and Error by descriptor (reflection)
        ready.hasField(ready.getDescriptorForType().findFieldByName("ready"));
        ready.hasField(ready.getDescriptorForType().findFieldByName("error"));
    }

    /** Sends MemoryUsage when the guest memory in use changed (at start, then on the timer thread). */
    private synchronized void reportMemory(Vm vm) {
        long resident;
        try {
            resident = vm.ram().residentBytes();
        } catch (SysException e) {
            return; // the VM is ending: its memfd is closed
        }
        if (resident != reportedResident) {
            reportedResident = resident;
            send(FromVmm.newBuilder().setMemory(MemoryUsage.newBuilder().setResidentBytes(resident)).build());
        }
    }

    private int finish(int status) {
        timer.shutdownNow();
        if (nics != null) {
            nics.close();
        }
        if (disks != null) {
            disks.close();
        }
        if (booted != null) {
            booted.close();
        }
        if (pty != null) {
            pty.close();
        }
        for (List<Child> started : List.of(earlyNics, earlyDisks)) {
            for (Child early : started) {
                try {
                    early.close();
                } catch (SysException e) {
                    // already gone
                }
            }
            started.clear();
        }
        Fd.closeAll(held);
        return status;
    }

    static Termination termination(VmExit.Kind k) {
        return switch (k) {
            case POWEROFF -> Termination.TERM_POWEROFF;
            case REBOOT -> Termination.TERM_REBOOT;
            case STOPPED -> Termination.TERM_STOPPED;
            case ERROR -> Termination.TERM_ERROR;
        };
    }

    private static Fd required(Received<ToVmm> r, FdRole role, String what) throws VmmException {
        try {
            return r.take(role, 0);
        } catch (IllegalStateException e) {
            throw new VmmException("StartVm carries no " + role + " (" + what + ")");
        }
    }

    private static Fd optional(Received<ToVmm> r, FdRole role) {
        return r.slots().stream().anyMatch(s -> s.getRole() == role) ? r.take(role, 0) : null;
    }

    private VmmMain.Booted setUp(VmConfig c, Received<ToVmm> r)
            throws VmmException, BootException, IOException {
        long t0 = System.nanoTime();
        // The NICs' vionet-procs start first: their JVMs come up while this one sets the VM up.
        // One started while this process waited in vmd's warm pool serves the first NIC.
        for (int i = 0; i < c.getNicsCount(); i++) {
            WaitStatus spareEnd = i < earlyNics.size() ? earlyNics.get(i).waitFor(0) : null;
            if (spareEnd != null) {
                // the spare died while this process waited (reaped now): the NIC gets a new one
                LOG.log(Level.DEBUG, "spare vionet-proc " + spareEnd.describe() + ": starting another");
                earlyNics.remove(i).close();
            }
            if (i < earlyNics.size()) {
                earlyNics.get(i).retitle(VmNics.title(title, i));
            } else {
                earlyNics.add(VionetProxy.startEarly(VmNics.title(title, i), null, null));
            }
        }
        while (earlyNics.size() > c.getNicsCount()) {
            earlyNics.removeLast().close(); // a VM without a NIC: the spare is not needed
        }
        for (int i = 0; i < c.getDisksCount(); i++) {
            earlyDisks.add(VioblkProxy.startEarly(VioblkProxy.title(title, i), null, null));
        }
        Fd kvmFd = required(r, FdRole.FD_KVM, "/dev/kvm");
        Kvm kvm = Kvm.adopt(kvmFd);
        held.add(kvmFd);
        Fd kernelFd = required(r, FdRole.FD_KERNEL, "the kernel");
        held.add(kernelFd); // until opened for the loader below
        Fd initrdFd = optional(r, FdRole.FD_INITRD);
        if (initrdFd != null) {
            held.add(initrdFd);
        }
        List<OutputStream> sinks = new ArrayList<>();
        Fd logFd = optional(r, FdRole.FD_LOG);
        if (logFd != null) {
            try (logFd) {
                // Reopen through /proc before any chroot; the stream then owns its own descriptor.
                sinks.add(new FileOutputStream(logFd.procPath().toFile(), true));
            }
        }
        Fd consoleFd = optional(r, FdRole.FD_CONSOLE);
        try {
            // vmd's (kept across reboots), or one of our own when started without vmd
            pty = consoleFd != null ? ConsolePty.adopt(consoleFd) : ConsolePty.open(c.getConsoleUid(), c.getConsoleGid());
        } catch (IOException e) {
            throw new VmmException("console pty: " + e.getMessage());
        }
        sinks.add(pty.sink());
        // Taps go to the NICs' device processes (held here until then).
        List<Fd> taps = VmNics.takeTaps(r, c.getNicsCount());
        held.addAll(taps);
        List<List<Fd>> images = VmDisks.takeImages(r, c.getDisksList()); // to the disks' vioblk-procs
        images.forEach(held::addAll); // until handed over; closing a handed-over Fd again is a no-op
        VmmMain.Booted b;
        // Read where they lie, into guest memory, and closed once loaded (not kept in the heap).
        try (BootFile kernel = VmmMain.openFd("kernel", kernelFd);
                BootFile initrd = initrdFd == null ? BootFile.NONE : VmmMain.openFd("initrd", initrdFd)) {
            b = VmmMain.build(kvm, new Vm.Config(c.getName(), c.getMemoryBytes(), Math.max(1, c.getVcpus())),
                    kernel, initrd, c.getCmdline(), sinks);
        }
        held.removeAll(taps);
        long built = System.nanoTime();
        pty.startInput(b.hw().com1, title + "/console-in");
        long deviceReady = c.getDeviceReadyTimeoutMs() > 0 ? c.getDeviceReadyTimeoutMs() : VmNics.READY_TIMEOUT_MS;
        try {
            // Spawned before the privilege drop: posix_spawn is gone after it.
            List<Child> started = List.copyOf(earlyNics);
            earlyNics.clear(); // handed over: attach closes them on failure
            nics = VmNics.attach(title, b.vm(), b.hw().pci, b.hw().bars, c.getNicsList(), taps,
                    started.isEmpty() ? null : started, c.getUser(), c.getChroot(),
                    caps -> send(FromVmm.newBuilder().setTuncap(caps).build()), null, deviceReady);
            List<Child> startedDisks = List.copyOf(earlyDisks);
            earlyDisks.clear(); // handed over: attach closes them on failure
            disks = VmDisks.attach(title, b.vm(), b.hw().pci, b.hw().bars, c.getDisksList(), images,
                    startedDisks.isEmpty() ? null : startedDisks, c.getUser(), c.getChroot(),
                    d -> diskDied(b.vm(), d), null, deviceReady);
        } catch (IOException | RuntimeException e) {
            b.close();
            throw e;
        }
        long attached = System.nanoTime();
        if (c.getVerbose()) {
            setVerbose(true);
        }
        // The drop's preload readies the log backend (org.jvmd.sys.log), which reads no file after
        // it: java.util.logging's local-time stamps needed lib/tzdb.dat, which the empty chroot
        // cannot reach, and killed the vCPU thread that logged the first record after the drop.
        // Always (vmd's vm.c drops unconditionally): an empty user or chroot means the role's
        // default (_vmd, /var/empty). Everything the VM needs from the file system (kvm, kernel,
        // initrd, log, taps, images, the pty) is a descriptor by now, and the device processes
        // are spawned.
        try {
            Role.VMM.shed(c.getUser()).chroot(Role.VMM.chroot(c.getChroot())).preloadPackages(VmmMain.PRELOAD).drop();
        } catch (IOException | RuntimeException e) {
            b.close();
            throw new IOException("privilege drop: " + e.getMessage(), e);
        }
        // where a start's time goes (vmctl log verbose; no String.format: no locale data after the drop)
        LOG.log(Level.DEBUG, "set up in " + ms(t0, System.nanoTime()) + " ms: VM built " + ms(t0, built)
                + ", devices ready " + ms(built, attached) + ", dropped " + ms(attached, System.nanoTime()));
        return b;
    }

    private static long ms(long from, long to) {
        return (to - from) / 1_000_000;
    }

    private void controlLoop() {
        Vm vm = booted.vm();
        while (!vm.exit().isDone()) {
            ToVmm m;
            try (Received<ToVmm> r = channel.receive(ToVmm.parser(), -1)) {
                m = r.message();
            } catch (PeerClosedException e) {
                vm.terminate(VmExit.stopped("vmd closed the channel"));
                return;
            } catch (IOException e) {
                if (vm.exit().isDone()) {
                    return;
                }
                sendError("bad message from vmd: " + e.getMessage(), 0);
                continue;
            }
            switch (m.getMsgCase()) {
                case PAUSE -> pause(vm);
                case UNPAUSE -> {
                    if (disks != null) {
                        disks.unpause();
                    }
                    if (nics != null) {
                        nics.unpause();
                    }
                    vm.resume();
                    send(FromVmm.newBuilder().setUnpaused(VmUnpaused.getDefaultInstance()).build());
                }
                case STOP -> stop(vm, m.getStop());
                case STATS -> send(FromVmm.newBuilder().setStats(stats()).build());
                case TUNCAP_REPLY -> {
                    if (nics != null) {
                        nics.tuncapReply(m.getTuncapReply());
                    }
                }
                case LOG -> setVerbose(m.getLog().getVerbose());
                default -> sendError("unexpected message " + m.getMsgCase(), 0);
            }
        }
    }

    /** Every NIC's and every disk's counters (a gone vioblk shows as dead). */
    private StatsReply stats() {
        StatsReply.Builder all = nics == null ? StatsReply.newBuilder() : nics.stats(STATS_TIMEOUT_MS).toBuilder();
        if (disks != null) {
            all.addAllDisks(disks.stats(STATS_TIMEOUT_MS));
        }
        return all.build();
    }

    /**
     * A disk's vioblk is gone: its device already flags DEVICE_NEEDS_RESET, but a guest whose
     * disk stopped answering cannot be trusted to stay consistent, so the VM stops, naming the
     * disk (the "VM stopped with a clear reason"; vmd then releases the image's lock).
     */
    private void diskDied(Vm vm, VioblkProxy d) {
        vm.terminate(VmExit.error("disk " + d.disk().getIndex() + " (" + d.disk().getPath() + "): "
                + d.title() + " died"));
    }

    /**
     * vmctl log verbose|brief (and vmd -v, through VmConfig.verbose): this process's debug lines
     * (System.Logger: {@link Logs#verbose}) and its device processes'.
     */
    private void setVerbose(boolean on) {
        Logs.verbose(on);
        if (nics != null) {
            nics.setVerbose(on);
        }
        if (disks != null) {
            disks.setVerbose(on);
        }
    }

    private void pause(Vm vm) {
        try {
            vm.pause(PAUSE_TIMEOUT_MS);
            // after the vCPUs: no new request can come in; then no device touches guest memory
            if (disks != null) {
                disks.pause(PAUSE_TIMEOUT_MS);
            }
            if (nics != null) {
                nics.pause(PAUSE_TIMEOUT_MS);
            }
            send(FromVmm.newBuilder().setPaused(VmPaused.getDefaultInstance()).build());
        } catch (TimeoutException e) {
            sendError("pause: " + e.getMessage(), 0);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** A forced stop ends the VM now; a graceful one sends Ctrl-Alt-Del and forces it after the timeout. */
    private void stop(Vm vm, StopVm s) {
        if (s.getForce()) {
            vm.terminate(VmExit.stopped("stopped by vmd"));
            return;
        }
        vm.requestStop("stopped by vmd");
        vm.resume();
        // The power button for an ACPI-aware init, Ctrl-Alt-Del for the kernel's own handler.
        boolean sent = booted.hw().pm.pressPowerButton() | booted.hw().i8042.sendCtrlAltDel();
        long timeout = s.getTimeoutMs() > 0 ? s.getTimeoutMs() : DEFAULT_STOP_TIMEOUT_MS;
        if (!sent) {
            timeout = 0;
        }
        timer.schedule(() -> vm.terminate(VmExit.stopped("stopped by vmd: the guest did not shut down in time")),
                timeout, TimeUnit.MILLISECONDS);
    }
}
