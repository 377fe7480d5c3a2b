package org.jvmd.vmm;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
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
import org.jvmd.sys.kvm.Kvm;
import org.jvmd.sys.proc.Child;
import org.jvmd.sys.proc.Role;
import org.jvmd.vmm.blk.VioblkProxy;
import org.jvmd.vmm.blk.VmDisks;
import org.jvmd.vmm.boot.BootException;
import org.jvmd.vmm.net.VionetProxy;
import org.jvmd.vmm.net.VmNics;

/**
 * vmm-proc started by vmd: the channel on fd 3 delivers {@code StartVm} with the
 * descriptors (FD_KVM, FD_KERNEL, optionally FD_INITRD, FD_LOG, FD_TAP per NIC, FD_DISK per
 * disk and layer). Each disk becomes a virtio-blk device served by its own vioblk-proc, in
 * configuration order after the NICs' devices (disk 0 is the guest's {@code /dev/vda}). The
 * process builds and loads the VM, sheds its privileges (always: to the config's user and
 * chroot, or {@link Role#VMM}'s defaults {@code _vmd} and {@code /var/empty} when they are empty),
 * answers {@code Ready} (or {@code Error} and exits), starts the vCPUs and reports
 * {@code VmStarted}; then it serves pause/unpause/stop until the VM ends, reports
 * {@code VmTerminated} and exits. The channel closing means vmd is gone: the VM stops.
 */
final class VmmChild {
    /** How long vmd has to send StartVm. */
    static final long START_TIMEOUT_MS = 60_000;
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
        try (ch) {
            return new VmmChild(ch).serve();
        }
    }

    private synchronized void send(MessageLite m) {
        try {
            channel.send(m);
        } catch (IOException e) {
            System.err.println(title + ": cannot reach vmd: " + e.getMessage());
        }
    }

    private void sendError(String message, int errno) {
        System.err.println(title + ": " + message);
        send(FromVmm.newBuilder().setError(Error.newBuilder().setMessage(message).setErrno(errno)).build());
    }

    private int serve() {
        try {
            try (Received<ToVmm> r = channel.receive(ToVmm.parser(), START_TIMEOUT_MS)) {
                if (!r.message().hasStart()) {
                    sendError("expected StartVm first, got " + r.message().getMsgCase(), 0);
                    return VmmMain.EXIT_ERROR;
                }
                VmConfig c = r.message().getStart().getConfig();
                title = "vm/" + c.getName();
                booted = setUp(c, r);
            }
        } catch (SysException e) {
            sendError(title + ": " + e.getMessage(), e.errno());
            return finish(VmmMain.EXIT_ERROR);
        } catch (VmmException | BootException | IOException | RuntimeException e) {
            sendError(title + ": " + e.getMessage(), 0);
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
        System.err.printf("%s: %s after %.2f s%n", title, e, (System.nanoTime() - vm.startNanos()) / 1e9);
        send(FromVmm.newBuilder().setTerminated(VmTerminated.newBuilder()
                .setHow(termination(e.kind())).setReason(e.reason())).build());
        return finish(VmmMain.exitStatus(e));
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
        // The NICs' vionet-procs start first: their JVMs come up while this one sets the VM up.
        for (int i = 0; i < c.getNicsCount(); i++) {
            earlyNics.add(VionetProxy.startEarly(VmNics.title(title, i), null, null));
        }
        for (int i = 0; i < c.getDisksCount(); i++) {
            earlyDisks.add(VioblkProxy.startEarly(VioblkProxy.title(title, i), null, null));
        }
        Fd kvmFd = required(r, FdRole.FD_KVM, "/dev/kvm");
        Kvm kvm = Kvm.adopt(kvmFd);
        held.add(kvmFd);
        byte[] kernel = VmmMain.readFd("kernel", required(r, FdRole.FD_KERNEL, "the kernel"));
        Fd initrdFd = optional(r, FdRole.FD_INITRD);
        byte[] initrd = initrdFd == null ? new byte[0] : VmmMain.readFd("initrd", initrdFd);
        List<OutputStream> sinks = new ArrayList<>();
        Fd logFd = optional(r, FdRole.FD_LOG);
        if (logFd != null) {
            try (logFd) {
                // Reopen through /proc before any chroot; the stream then owns its own descriptor.
                sinks.add(new FileOutputStream(logFd.procPath().toFile(), true));
            }
        }
        try {
            pty = ConsolePty.open(c.getConsoleUid(), c.getConsoleGid());
        } catch (IOException e) {
            throw new VmmException("console pty: " + e.getMessage());
        }
        sinks.add(pty.sink());
        // Taps go to the NICs' device processes (held here until then).
        List<Fd> taps = VmNics.takeTaps(r, c.getNicsCount());
        held.addAll(taps);
        List<List<Fd>> images = VmDisks.takeImages(r, c.getDisksList()); // to the disks' vioblk-procs
        images.forEach(held::addAll); // until handed over; closing a handed-over Fd again is a no-op
        VmmMain.Booted b = VmmMain.build(kvm, new Vm.Config(c.getName(), c.getMemoryBytes(), Math.max(1, c.getVcpus())),
                kernel, initrd, c.getCmdline(), sinks);
        held.removeAll(taps);
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
        if (c.getVerbose()) {
            setVerbose(true);
        }
        // java.util.logging stamps every record with the local time: the zone rules come from the
        // JDK's lib/tzdb.dat and /etc/localtime, which the empty chroot cannot reach. Read them
        // now, or the first record logged after the drop (a debug line of a vCPU thread with
        // vmctl log verbose) fails to initialise ZoneInfoFile and kills the thread that logged.
        java.util.logging.LogManager.getLogManager();
        new java.util.logging.SimpleFormatter().format(new java.util.logging.LogRecord(java.util.logging.Level.FINE, ""));
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
        return b;
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
     * (java.util.logging, behind System.Logger) and its device processes'.
     */
    private void setVerbose(boolean on) {
        java.util.logging.Level level = on ? java.util.logging.Level.FINE : java.util.logging.Level.INFO;
        java.util.logging.Logger root = java.util.logging.Logger.getLogger("");
        root.setLevel(level);
        for (java.util.logging.Handler h : root.getHandlers()) {
            h.setLevel(level);
        }
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
