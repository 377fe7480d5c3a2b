package org.jvmd.vmm;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import com.google.protobuf.ByteString;
import org.jvmd.proto.DiskConfig;
import org.jvmd.proto.DiskFormat;
import org.jvmd.proto.NicConfig;
import org.jvmd.proto.TunCapabilities;
import org.jvmd.proto.TunCapabilitiesReply;
import org.jvmd.sys.Errno;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.SysException;
import org.jvmd.sys.kvm.Kvm;
import org.jvmd.sys.net.Tap;
import org.jvmd.sys.proc.Child;
import org.jvmd.vmm.blk.VmDisks;
import org.jvmd.vmm.boot.BootException;
import org.jvmd.vmm.boot.BzImage;
import org.jvmd.vmm.boot.BootFile;
import org.jvmd.vmm.boot.LinuxLoader;
import org.jvmd.vmm.net.VionetProxy;
import org.jvmd.vmm.net.VmNics;
import org.jvmd.virtio.net.VirtioNetFeatures;

/**
 * vmm-proc, the per-VM process (vmd's vm.c). Two entry points:
 * <ul>
 *   <li>no arguments: started by vmd with its channel on fd 3; see {@link VmmChild};</li>
 *   <li>{@code --kernel K [--initrd I] [--cmdline C] [--memory 512M] [--vcpus N] [--name N]
 *       [--console-log F] [--kvm /dev/kvm] [--tap NAME]... [--disk IMAGE]... [--stop-after SECS]}: a development entry
 *       that opens the files itself and writes the serial console to stdout. Each {@code --tap}
 *       opens (or creates) that tap in the current network namespace and attaches it as a
 *       virtio-net NIC served by a vionet-proc, as vmd's NICs are; this process applies the
 *       guest's TUNSCAP to the tap itself. Each {@code --disk} opens (O_RDWR, locked) a raw
 *       image and attaches it as a virtio-blk disk served by a vioblk-proc, in order (the first
 *       is /dev/vda). {@code --stop-after} ends the VM after that many
 *       seconds (an AOT training run, scripts/aot-cache). Exit status: 0 power-off,
 *       3 reboot, 4 stopped, 1 error, 2 usage.</li>
 * </ul>
 */
public final class VmmMain {
    static final int EXIT_POWEROFF = 0;
    static final int EXIT_ERROR = 1;
    static final int EXIT_USAGE = 2;
    static final int EXIT_REBOOT = 3;
    static final int EXIT_STOPPED = 4;

    /**
     * What vmm-proc preloads before its privilege drop: its own classes and those of the
     * modules it runs on, not vionet-proc's (on its class path for the child it spawns).
     */
    static final String[] PRELOAD = {"org.jvmd.vmm.", "org.jvmd.virtio.", "org.jvmd.sys.", "org.jvmd.proto."};

    /**
     * The features a development-entry NIC offers: vmd's default ({@code offload on}) less
     * USO, as config.InterfaceSpec builds them (virtio 1.2 §5.1.3).
     */
    static final long DEV_NIC_FEATURES = bits(VirtioNetFeatures.MAC, VirtioNetFeatures.STATUS, VirtioNetFeatures.CSUM,
            VirtioNetFeatures.GUEST_CSUM, VirtioNetFeatures.HOST_TSO4, VirtioNetFeatures.HOST_TSO6,
            VirtioNetFeatures.HOST_ECN, VirtioNetFeatures.GUEST_TSO4, VirtioNetFeatures.GUEST_TSO6,
            VirtioNetFeatures.GUEST_ECN, VirtioNetFeatures.MRG_RXBUF, VirtioNetFeatures.CTRL_VQ,
            VirtioNetFeatures.CTRL_GUEST_OFFLOADS);

    private VmmMain() {
    }

    private static long bits(int... features) {
        long b = 0;
        for (int f : features) {
            b |= VirtioNetFeatures.bit(f);
        }
        return b;
    }

    /** A VM built and loaded, not yet started. */
    record Booted(Vm vm, EmulatedHw hw, ConsoleOutput console, LinuxLoader.Loaded loaded) implements AutoCloseable {
        @Override
        public void close() {
            hw.close();
            vm.close();
        }
    }

    /**
     * Builds a VM on {@code kvm}, attaches the platform devices, and loads the kernel. On
     * failure nothing is left open (the caller still owns {@code kvm}).
     */
    static Booted build(Kvm kvm, Vm.Config config, BootFile kernelImage, BootFile initrd, String cmdline,
                        List<OutputStream> consoleSinks) throws VmmException, BootException, SysException {
        return build(kvm, config, kernelImage, initrd, cmdline, consoleSinks, new StringBuilder());
    }

    /** {@link #build}, noting how long each step took in {@code timing} ("vm 2.3 s, devices 0.1 s, ..."). */
    static Booted build(Kvm kvm, Vm.Config config, BootFile kernelImage, BootFile initrd, String cmdline,
                        List<OutputStream> consoleSinks, StringBuilder timing)
            throws VmmException, BootException, SysException {
        long t = System.nanoTime();
        BzImage kernel = BzImage.parse(kernelImage);
        Vm vm = Vm.create(kvm, config);
        t = lap(timing, "vm", t);
        EmulatedHw hw = null;
        try {
            ConsoleOutput console = new ConsoleOutput();
            consoleSinks.forEach(console::addSink);
            hw = new EmulatedHw(vm, console);
            t = lap(timing, "devices+acpi", t);
            LinuxLoader.Loaded loaded = vm.loadLinux(kernel, initrd, cmdline, vm.e820(), hw.acpi.rsdp());
            lap(timing, "load", t);
            return new Booted(vm, hw, console, loaded);
        } catch (BootException | SysException | RuntimeException e) {
            if (hw != null) {
                hw.close();
            }
            vm.close();
            throw e;
        }
    }

    private static long lap(StringBuilder timing, String what, long since) {
        long now = System.nanoTime();
        timing.append(timing.isEmpty() ? "" : ", ").append(what).append(' ')
                .append((now - since) / 1_000_000).append(" ms");
        return now;
    }

    static int exitStatus(VmExit e) {
        return switch (e.kind()) {
            case POWEROFF -> EXIT_POWEROFF;
            case REBOOT -> EXIT_REBOOT;
            case STOPPED -> EXIT_STOPPED;
            case ERROR -> EXIT_ERROR;
        };
    }

    public static void main(String[] args) {
        int status;
        if (args.length == 0) {
            status = VmmChild.run();
        } else {
            status = dev(args, System.err);
        }
        System.out.flush();
        System.exit(status);
    }

    /** Parses a size like {@code 512M}, {@code 2G}, {@code 1048576} (bytes), {@code 64K}. */
    static long parseSize(String s) {
        String t = s.trim().toUpperCase(Locale.ROOT);
        long mult = 1;
        if (t.endsWith("K") || t.endsWith("M") || t.endsWith("G")) {
            mult = switch (t.charAt(t.length() - 1)) {
                case 'K' -> 1L << 10;
                case 'M' -> 1L << 20;
                default -> 1L << 30;
            };
            t = t.substring(0, t.length() - 1);
        }
        long v = Long.parseLong(t);
        if (v <= 0 || v > Long.MAX_VALUE / mult) {
            throw new NumberFormatException("size out of range: " + s);
        }
        return v * mult;
    }

    /** The development entry point; returns the exit status. */
    static int dev(String[] args, PrintStream err) {
        VmmDevArgs a;
        try {
            a = VmmDevArgs.parse(args, System.out);
        } catch (IllegalArgumentException e) {
            err.println("vmm: " + e.getMessage());
            err.println(VmmDevArgs.USAGE);
            return EXIT_USAGE;
        }
        if (a == null) {
            return 0;
        }
        String kernel = a.kernel;
        String initrd = a.initrd;
        String cmdline = a.cmdline;
        String name = a.name;
        String consoleLog = a.consoleLog;
        String kvmPath = a.kvmPath;
        long memory = a.memory;
        int vcpus = a.vcpus;
        List<String> tapNames = a.taps;
        List<String> diskPaths = a.disks;
        long stopAfterMs = a.stopAfterMs;
        String title = "vm/" + name;
        org.jvmd.sys.log.Logs.title(title);
        long t0 = System.nanoTime();
        List<OutputStream> sinks = new ArrayList<>();
        sinks.add(System.out);
        OutputStream log = null;
        StringBuilder timing = new StringBuilder();
        DevTaps taps = null;
        try (Kvm kvm = Kvm.open(kvmPath)) {
            long t = lap(timing, "kvm", t0);
            taps = DevTaps.open(title, tapNames);
            if (consoleLog != null) {
                log = new FileOutputStream(consoleLog, true);
                sinks.add(log);
            }
            Booted built;
            try (BootFile k = BootFile.open("kernel", Path.of(kernel));
                    BootFile rd = initrd == null ? BootFile.NONE : BootFile.open("initrd", Path.of(initrd))) {
                lap(timing, "files", t);
                built = build(kvm, new Vm.Config(name, memory, vcpus), k, rd, cmdline, sinks, timing);
            } // loaded: the files are closed before the guest runs
            try (Booted b = built;
                    DevTaps nics = taps;
                    VmDisks disks = devDisks(title, b, diskPaths, a.deviceReadyMs)) {
                t = System.nanoTime();
                nics.attach(title, b, a.deviceReadyMs);
                if (!tapNames.isEmpty()) {
                    lap(timing, "nics", t);
                }
                err.printf("%s: %s; %d vCPUs, %d MiB, %d NICs, set up in %d ms (%s)%n", title, b.loaded().layout(),
                        vcpus, memory >> 20, tapNames.size(), (System.nanoTime() - t0) / 1_000_000, timing);
                b.vm().start();
                if (stopAfterMs > 0) {
                    long ms = stopAfterMs;
                    Thread.ofPlatform().daemon().name(title + "/stop-after").start(() -> stopAfter(b.vm(), ms));
                }
                VmExit e = b.vm().exit().join();
                b.console().flush();
                err.printf("%s: %s after %.2f s%n", title, e, (System.nanoTime() - b.vm().startNanos()) / 1e9);
                return exitStatus(e);
            }
        } catch (SysException e) {
            err.println(title + ": " + (e.call().startsWith("open(") && taps == null ? "kvm: " + e.getMessage()
                    : e.getMessage()));
            return EXIT_ERROR;
        } catch (VmmException | BootException | IOException e) {
            err.println(title + ": " + e.getMessage());
            return EXIT_ERROR;
        } finally {
            if (taps != null) {
                taps.close();
            }
            if (log != null) {
                try {
                    log.close();
                } catch (IOException ignored) {
                    // the console log is best effort
                }
            }
        }
    }

    /**
     * The development entry's disks: raw images opened here (O_RDWR, with the exclusive lock
     * vmd takes), each attached through {@link VmDisks} to a vioblk-proc spawned now.
     */
    static VmDisks devDisks(String title, Booted b, List<String> paths, long readyTimeoutMs) throws IOException {
        List<List<Fd>> images = new ArrayList<>();
        List<DiskConfig> configs = new ArrayList<>();
        try {
            for (String p : paths) {
                Fd fd;
                try {
                    fd = LibC.open(p, LibC.O_RDWR | LibC.O_CLOEXEC);
                } catch (SysException e) {
                    throw new IOException("--disk " + p + ": " + Errno.describe(e.errno()), e);
                }
                images.add(List.of(fd));
                try {
                    LibC.flock(fd, LibC.LOCK_EX | LibC.LOCK_NB);
                } catch (SysException e) {
                    throw new IOException("--disk " + p + ": " + (e.errno() == Errno.EAGAIN ? "in use (locked)"
                            : e.getMessage()), e);
                }
                configs.add(DiskConfig.newBuilder().setIndex(configs.size()).setPath(p).setFormat(DiskFormat.FORMAT_RAW)
                        .setSerial("dev-" + configs.size()).build());
            }
        } catch (IOException | RuntimeException e) {
            images.forEach(Fd::closeAll);
            throw e;
        }
        return VmDisks.attach(title, b.vm(), b.hw().pci, b.hw().bars, configs, images, null, "", "",
                d -> b.vm().terminate(VmExit.error(d.title() + " died")), null, readyTimeoutMs);
    }

    /** A tap name as the kernel takes it (linux/if.h IFNAMSIZ, dev_valid_name): 1-15 bytes, no '/', ':' or blank. */
    static String checkTapName(String name) {
        if (name.isEmpty() || name.length() >= Tap.IFNAMSIZ || name.equals(".") || name.equals("..")
                || !name.chars().allMatch(c -> c > ' ' && c < 0x7f && c != '/' && c != ':')) {
            throw new IllegalArgumentException("--tap " + name + ": not an interface name (1-"
                    + (Tap.IFNAMSIZ - 1) + " printable characters, no '/', ':' or blank)");
        }
        return name;
    }

    static long parseSeconds(String s) {
        long v = Long.parseLong(s.trim());
        if (v <= 0 || v > 86_400) {
            throw new NumberFormatException("--stop-after wants 1..86400 seconds, got " + s);
        }
        return v * 1000;
    }

    private static void stopAfter(Vm vm, long ms) {
        try {
            vm.exit().get(ms, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            vm.terminate(VmExit.stopped("--stop-after " + ms / 1000 + " s"));
        } catch (InterruptedException | ExecutionException e) {
            // the VM ended on its own
        }
    }

    /**
     * The development entry's NICs: taps opened here (in this network namespace, as vmd
     * opens them in its own), each attached through {@link VmNics} to a vionet-proc. This
     * process keeps a duplicate of each tap to apply the guest's TUNSCAP, in vmd's place.
     */
    static final class DevTaps implements AutoCloseable {
        private final List<Tap> ours;
        private final List<Fd> handed;
        private final List<Child> started;
        private volatile VmNics nics;

        private DevTaps(List<Tap> ours, List<Fd> handed, List<Child> started) {
            this.ours = ours;
            this.handed = handed;
            this.started = started;
        }

        /**
         * Opens the taps and starts their vionet-procs at once, so that those JVMs start while
         * this one sets the VM up ({@link #attach} then connects them).
         */
        static DevTaps open(String title, List<String> names) throws IOException {
            List<Tap> ours = new ArrayList<>();
            List<Fd> handed = new ArrayList<>();
            List<Child> started = new ArrayList<>();
            try {
                for (String n : names) {
                    Tap t;
                    try {
                        t = Tap.open(n);
                    } catch (SysException e) {
                        throw new SysException("tap " + n + ": " + e.call(), e.errno());
                    }
                    ours.add(t);
                    handed.add(t.fd().dup());
                    t.setOffload(0);   // until the guest's TUNSCAP (a persistent tap keeps its flags)
                }
                for (int i = 0; i < names.size(); i++) {
                    started.add(VionetProxy.startEarly(VmNics.title(title, i), null, null));
                }
                return new DevTaps(ours, handed, started);
            } catch (IOException | RuntimeException e) {
                closeAll(started);
                ours.forEach(Tap::close);
                Fd.closeAll(handed);
                throw e;
            }
        }

        private static void closeAll(List<Child> children) {
            for (Child c : children) {
                try {
                    c.close();
                } catch (SysException e) {
                    System.err.println(c + ": " + e.getMessage());
                }
            }
            children.clear();
        }

        /** Spawns a vionet-proc per tap and plugs its NIC into {@code b}; the handed-over fds go. */
        void attach(String title, Booted b, long readyTimeoutMs) throws IOException {
            if (ours.isEmpty()) {
                return;
            }
            List<NicConfig> configs = new ArrayList<>();
            for (int i = 0; i < ours.size(); i++) {
                configs.add(NicConfig.newBuilder().setIndex(i).setTapName(ours.get(i).name())
                        .setMac(ByteString.copyFrom(new byte[] {(byte) 0xfe, (byte) 0xe1, (byte) 0xba, (byte) 0xd0, 0,
                                (byte) (i + 1)}))
                        .setFeatures(DEV_NIC_FEATURES).build());
            }
            List<Fd> fds = new ArrayList<>(handed);
            handed.clear();
            List<Child> children = new ArrayList<>(started);
            started.clear();
            nics = VmNics.attach(title, b.vm(), b.hw().pci, b.hw().bars, configs, fds, children, "", "",
                    this::tunCapabilities, null, readyTimeoutMs);
        }

        /** TUNSCAP: applies the guest's acked offloads to this process's copy of the tap, as vmd does. */
        private void tunCapabilities(TunCapabilities c) {
            TunCapabilitiesReply.Builder r = TunCapabilitiesReply.newBuilder().setNic(c.getNic());
            if (c.getNic() >= ours.size()) {
                r.setOk(false).setError(org.jvmd.proto.Error.newBuilder().setMessage("no such nic " + c.getNic())
                        .setErrno(Errno.EINVAL));
            } else {
                try {
                    ours.get(c.getNic()).setOffload(c.getTunFlags());
                    r.setOk(true).setAppliedFlags(c.getTunFlags());
                } catch (SysException e) {
                    r.setOk(false).setError(org.jvmd.proto.Error.newBuilder().setMessage(e.getMessage())
                            .setErrno(e.errno()));
                }
            }
            VmNics n = nics;
            if (n != null) {
                n.tuncapReply(r.build());
            }
        }

        @Override
        public void close() {
            VmNics n = nics;
            nics = null;
            if (n != null) {
                n.close();
            }
            closeAll(started);
            Fd.closeAll(handed);
            handed.clear();
            ours.forEach(Tap::close);
        }
    }

    /**
     * Opens the file behind {@code fd} (a kernel or initrd passed by vmd) for the loader, which
     * reads it where it lies, and closes {@code fd}: the file is reopened through /proc (before
     * any chroot), so the returned file has its own descriptor and offset.
     */
    static BootFile openFd(String what, Fd fd) throws IOException {
        try (fd) {
            return BootFile.open(what, fd.procPath());
        } catch (IOException e) {
            throw new IOException(what + ": cannot read the passed descriptor: " + e.getMessage(), e);
        }
    }
}
