package org.jvmd.vmm;

import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The command line of vmm-proc's development entry ({@code VmmMain} with arguments: one VM,
 * without vmd), parsed by picocli from these annotations. vmd never passes arguments: a
 * vmm-proc it spawns reads its configuration from its channel and never loads this class.
 */
@Command(name = "vmm", synopsisHeading = "", usageHelpAutoWidth = false,
        customSynopsis = {"usage: vmm --kernel FILE [--initrd FILE] [--cmdline TEXT] [--memory SIZE] [--vcpus N]",
            "           [--name NAME] [--console-log FILE] [--kvm DEVICE] [--tap NAME]... [--disk IMAGE]...",
            "           [--stop-after SECS]"},
        description = {"", "Boots one VM from a Linux kernel, its console on stdout, without vmd (development).", ""})
final class VmmDevArgs {
    /** The usage line printed after a usage error (the synopsis, as one line). */
    static final String USAGE = "usage: vmm --kernel FILE [--initrd FILE] [--cmdline TEXT] [--memory SIZE] [--vcpus N]"
            + " [--name NAME] [--console-log FILE] [--kvm DEVICE] [--tap NAME]... [--disk IMAGE]..."
            + " [--stop-after SECS]";

    @Option(names = "--kernel", paramLabel = "FILE", description = "The Linux kernel (bzImage) to boot.")
    String kernel;

    @Option(names = "--initrd", paramLabel = "FILE", description = "An initial ramdisk.")
    String initrd;

    @Option(names = "--cmdline", paramLabel = "TEXT", description = "The kernel command line (default console=ttyS0).")
    String cmdline = "console=ttyS0";

    @Option(names = "--memory", paramLabel = "SIZE", converter = SizeConverter.class,
            description = "Guest memory: bytes, or with K, M or G (default 512M).")
    long memory = 512L << 20;

    @Option(names = "--vcpus", paramLabel = "N", description = "Virtual CPUs (default 1).")
    int vcpus = 1;

    @Option(names = "--name", paramLabel = "NAME", description = "The VM's name, in its process title (default dev).")
    String name = "dev";

    @Option(names = "--console-log", paramLabel = "FILE", description = "Also append the console output to FILE.")
    String consoleLog;

    @Option(names = "--kvm", paramLabel = "DEVICE", description = "The KVM device (default /dev/kvm).")
    String kvmPath = "/dev/kvm";

    @Option(names = "--tap", paramLabel = "NAME", converter = TapConverter.class,
            description = "Add a virtio-net NIC on this existing tap (repeatable).")
    List<String> taps = new ArrayList<>();

    @Option(names = "--disk", paramLabel = "IMAGE", description = "Add a virtio-blk disk: a raw image (repeatable).")
    List<String> disks = new ArrayList<>();

    @Option(names = "--stop-after", paramLabel = "SECS", converter = SecondsConverter.class,
            description = "Stop the VM after SECS seconds (1..86400).")
    long stopAfterMs;

    @Option(names = "--device-ready-timeout", paramLabel = "SECS", converter = SecondsConverter.class,
            description = "How long each device process may take to answer Ready (default 60).")
    long deviceReadyMs = org.jvmd.vmm.net.VmNics.READY_TIMEOUT_MS;

    @Option(names = "--help", usageHelp = true, description = "Show this help and exit.")
    boolean help;

    static final class SizeConverter implements CommandLine.ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            return VmmMain.parseSize(value);
        }
    }

    static final class SecondsConverter implements CommandLine.ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            return VmmMain.parseSeconds(value);
        }
    }

    static final class TapConverter implements CommandLine.ITypeConverter<String> {
        @Override
        public String convert(String value) {
            try {
                return VmmMain.checkTapName(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }

    /**
     * Parses the development entry's arguments; null after --help (printed to {@code out}).
     *
     * @throws IllegalArgumentException with the reason, for a usage error
     */
    static VmmDevArgs parse(String[] args, java.io.PrintStream out) {
        VmmDevArgs a = new VmmDevArgs();
        CommandLine cl = new CommandLine(a);
        cl.setExpandAtFiles(false);
        cl.setOverwrittenOptionsAllowed(true);
        cl.getCommandSpec().parser().separator(" ");
        try {
            cl.parseArgs(args);
        } catch (CommandLine.ParameterException e) {
            String m = e.getMessage();
            // a converter's own words ("--tap x: not an interface name ...") come without picocli's frame
            if (e.getCause() instanceof CommandLine.TypeConversionException t && t.getMessage() != null) {
                m = t.getMessage();
            }
            throw new IllegalArgumentException(m);
        }
        if (a.help) {
            cl.usage(out, CommandLine.Help.Ansi.OFF);
            return null;
        }
        if (a.kernel == null) {
            throw new IllegalArgumentException("--kernel is required");
        }
        return a;
    }
}
