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
import org.jvmd.sys.Fd;
import org.jvmd.sys.SysException;
import org.jvmd.sys.kvm.Kvm;
import org.jvmd.vmm.boot.BootException;
import org.jvmd.vmm.boot.BzImage;
import org.jvmd.vmm.boot.LinuxLoader;

/**
 * vmm-proc, the per-VM process (vmd's vm.c). Two entry points:
 * <ul>
 *   <li>no arguments: started by vmd with its channel on fd 3; see {@link VmmChild};</li>
 *   <li>{@code --kernel K [--initrd I] [--cmdline C] [--memory 512M] [--vcpus N] [--name N]
 *       [--console-log F]}: a development entry that opens the files itself and writes the
 *       serial console to stdout. Exit status: 0 power-off, 3 reboot, 4 stopped, 1 error,
 *       2 usage.</li>
 * </ul>
 */
public final class VmmMain {
    static final int EXIT_POWEROFF = 0;
    static final int EXIT_ERROR = 1;
    static final int EXIT_USAGE = 2;
    static final int EXIT_REBOOT = 3;
    static final int EXIT_STOPPED = 4;

    private VmmMain() {
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
    static Booted build(Kvm kvm, Vm.Config config, byte[] kernelImage, byte[] initrd, String cmdline,
                        List<OutputStream> consoleSinks) throws VmmException, BootException, SysException {
        BzImage kernel = BzImage.parse(kernelImage);
        Vm vm = Vm.create(kvm, config);
        EmulatedHw hw = null;
        try {
            ConsoleOutput console = new ConsoleOutput();
            consoleSinks.forEach(console::addSink);
            hw = new EmulatedHw(vm, console);
            LinuxLoader.Loaded loaded = vm.loadLinux(kernel, initrd, cmdline, vm.e820(), hw.acpi.rsdp());
            return new Booted(vm, hw, console, loaded);
        } catch (BootException | SysException | RuntimeException e) {
            if (hw != null) {
                hw.close();
            }
            vm.close();
            throw e;
        }
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
        String kernel = null;
        String initrd = null;
        String cmdline = "console=ttyS0";
        String name = "dev";
        String consoleLog = null;
        long memory = 512L << 20;
        int vcpus = 1;
        try {
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException("missing value after " + a);
                }
                String v = args[++i];
                switch (a) {
                    case "--kernel" -> kernel = v;
                    case "--initrd" -> initrd = v;
                    case "--cmdline" -> cmdline = v;
                    case "--memory" -> memory = parseSize(v);
                    case "--vcpus" -> vcpus = Integer.parseInt(v);
                    case "--name" -> name = v;
                    case "--console-log" -> consoleLog = v;
                    default -> throw new IllegalArgumentException("unknown option " + a);
                }
            }
            if (kernel == null) {
                throw new IllegalArgumentException("--kernel is required");
            }
        } catch (IllegalArgumentException e) {
            err.println("vmm: " + e.getMessage());
            err.println("usage: vmm --kernel FILE [--initrd FILE] [--cmdline TEXT] [--memory SIZE] [--vcpus N]"
                    + " [--name NAME] [--console-log FILE]");
            return EXIT_USAGE;
        }
        String title = "vm/" + name;
        long t0 = System.nanoTime();
        List<OutputStream> sinks = new ArrayList<>();
        sinks.add(System.out);
        OutputStream log = null;
        try (Kvm kvm = Kvm.open()) {
            byte[] k = readFile("kernel", kernel);
            byte[] rd = initrd == null ? new byte[0] : readFile("initrd", initrd);
            if (consoleLog != null) {
                log = new FileOutputStream(consoleLog, true);
                sinks.add(log);
            }
            try (Booted b = build(kvm, new Vm.Config(name, memory, vcpus), k, rd, cmdline, sinks)) {
                err.printf("%s: %s; %d vCPUs, %d MiB, set up in %d ms%n", title, b.loaded().layout(), vcpus,
                        memory >> 20, (System.nanoTime() - t0) / 1_000_000);
                b.vm().start();
                VmExit e = b.vm().exit().join();
                b.console().flush();
                err.printf("%s: %s after %.2f s%n", title, e, (System.nanoTime() - b.vm().startNanos()) / 1e9);
                return exitStatus(e);
            }
        } catch (SysException e) {
            err.println(title + ": " + (e.call().startsWith("open") ? "kvm: /dev/kvm: " + e.getMessage() : e.getMessage()));
            return EXIT_ERROR;
        } catch (VmmException | BootException | IOException e) {
            err.println(title + ": " + e.getMessage());
            return EXIT_ERROR;
        } finally {
            if (log != null) {
                try {
                    log.close();
                } catch (IOException ignored) {
                    // the console log is best effort
                }
            }
        }
    }

    private static byte[] readFile(String what, String path) throws IOException {
        try {
            return Files.readAllBytes(Path.of(path));
        } catch (NoSuchFileException e) {
            throw new IOException(what + ": " + path + ": no such file");
        }
    }

    /** Reads the whole file behind {@code fd} (a kernel or initrd passed by vmd) and closes it. */
    static byte[] readFd(String what, Fd fd) throws IOException {
        try (fd) {
            return Files.readAllBytes(Path.of("/proc/self/fd/" + fd.num()));
        } catch (IOException e) {
            throw new IOException(what + ": cannot read the passed descriptor: " + e.getMessage(), e);
        }
    }
}
