package org.jvmd.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.jvmd.sys.net.Netns;
import org.jvmd.testkit.Host;
import org.jvmd.vmm.boot.SyntheticBzImage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The development entry point's answers to bad input: each a clear one-line error, exit
 * status 1 (2 for usage), and nothing left open. These fail before any guest code runs, so
 * they run on any /dev/kvm, kvm_pvm included.
 */
class VmmMainTest {
    @TempDir
    Path dir;

    private record Result(int status, String err) {}

    private static Result dev(String... args) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int status = VmmMain.dev(args, new PrintStream(b, true, StandardCharsets.UTF_8));
        return new Result(status, b.toString(StandardCharsets.UTF_8));
    }

    private static long openFds() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    private static void assumeKvm() {
        Host.assumeKvm("VmmMainTest (checks after /dev/kvm is opened)");
    }

    private Path syntheticKernel(long initSize) throws IOException {
        Path k = dir.resolve("bzImage");
        Files.write(k, new SyntheticBzImage().initSize(initSize).kernelBytes(64 * 1024).build());
        return k;
    }

    @Test
    void aNonBzImageKernelIsRefusedByName() throws Exception {
        assumeKvm();
        Path k = dir.resolve("vmlinux");
        Files.writeString(k, "\u007fELF, not a bzImage".repeat(100));
        long before = openFds();
        Result r = dev("--kernel", k.toString(), "--memory", "64M");
        assertEquals(VmmMain.EXIT_ERROR, r.status());
        assertEquals("vm/dev: kernel: not a bzImage (no HdrS magic)", r.err().strip());
        assertEquals(before, openFds(), "no descriptor left open");
    }

    @Test
    void memoryTooSmallForTheKernelIsRefusedWithTheSizes() throws Exception {
        assumeKvm();
        Path k = syntheticKernel(60L << 20);
        long before = openFds();
        Result r = dev("--kernel", k.toString(), "--memory", "64M");
        assertEquals(VmmMain.EXIT_ERROR, r.status(), r.err());
        assertEquals("vm/dev: memory too small for the kernel: it needs 76 MiB of RAM from 0x1000000 (init_size 60 MiB),"
                + " the VM has 64 MiB", r.err().strip());
        assertEquals(before, openFds(), "the VM, its vCPUs and its memfd were closed");
    }

    @Test
    void anInitrdTooLargeForTheMemoryIsRefused() throws Exception {
        assumeKvm();
        Path k = syntheticKernel(8L << 20);
        Path rd = dir.resolve("initrd");
        try (RandomAccessFile f = new RandomAccessFile(rd.toFile(), "rw")) {
            f.setLength(48L << 20);
        }
        long before = openFds();
        Result r = dev("--kernel", k.toString(), "--initrd", rd.toString(), "--memory", "64M");
        assertEquals(VmmMain.EXIT_ERROR, r.status(), r.err());
        assertTrue(r.err().startsWith("vm/dev: initrd too large: 50331648 bytes (48 MiB), at most 41943040 bytes (40 MiB)"),
                r.err());
        assertEquals(before, openFds());
    }

    @Test
    void aMissingKvmDeviceIsNamed() throws Exception {
        Path k = syntheticKernel(8L << 20);
        Result r = dev("--kernel", k.toString(), "--kvm", dir.resolve("kvm").toString());
        assertEquals(VmmMain.EXIT_ERROR, r.status());
        assertEquals("vm/dev: kvm: open(" + dir.resolve("kvm") + "): ENOENT (No such file or directory)", r.err().strip());
    }

    @Test
    void aMissingDiskImageIsNamedAndNothingStaysOpen() throws Exception {
        assumeKvm();
        Path k = syntheticKernel(8L << 20);
        long before = openFds();
        Result r = dev("--kernel", k.toString(), "--memory", "64M", "--disk", dir.resolve("nope.img").toString());
        assertEquals(VmmMain.EXIT_ERROR, r.status(), r.err());
        assertEquals("vm/dev: --disk " + dir.resolve("nope.img") + ": ENOENT (No such file or directory)",
                r.err().strip());
        assertEquals(before, openFds());
    }

    @Test
    void aMissingKernelFileIsNamed() throws Exception {
        assumeKvm();
        Result r = dev("--kernel", dir.resolve("nope").toString());
        assertEquals(VmmMain.EXIT_ERROR, r.status());
        assertEquals("vm/dev: kernel: " + dir.resolve("nope") + ": no such file", r.err().strip());
    }

    @Test
    void aBadTapNameIsAUsageErrorThatNamesIt() {
        for (String bad : new String[] {"", "a-name-too-long-x", "a/b", "eth0:1", "two words"}) {
            Result r = dev("--kernel", "k", "--tap", bad);
            assertEquals(VmmMain.EXIT_USAGE, r.status(), bad);
            assertTrue(r.err().startsWith("vmm: --tap " + bad + ": not an interface name"), r.err());
        }
    }

    @Test
    void aTapTheKernelRefusesIsNamedAndLeavesNothingOpen() throws Exception {
        assumeKvm();
        Path k = syntheticKernel(8L << 20);
        String ns = "jvmd-vmmmain-" + ProcessHandle.current().pid();
        sh("ip", "netns", "add", ns);
        try {
            long before = vmFds();
            // "lo" exists and is no tap: TUNSETIFF refuses it (EINVAL) without touching it.
            Result r = Netns.call(ns, () -> dev("--kernel", k.toString(), "--memory", "64M", "--tap", "lo"));
            assertEquals(VmmMain.EXIT_ERROR, r.status());
            assertEquals("vm/dev: tap lo: ioctl(TUNSETIFF): EINVAL (Invalid argument)", r.err().strip());
            assertEquals(before, vmFds());
        } finally {
            sh("ip", "netns", "del", ns);
        }
    }

    @Test
    void aDevTapIsServedByAVionetProcAndStopAfterEndsTheVm() throws Exception {
        assumeKvm();
        Path k = dir.resolve("bzImage");
        Files.write(k, new SyntheticBzImage().initSize(8L << 20)
                .entryCode(new byte[] {(byte) 0xf4, (byte) 0xeb, (byte) 0xfd}).build()); // hlt; jmp hlt
        String ns = "jvmd-vmmmain-" + ProcessHandle.current().pid();
        sh("ip", "netns", "add", ns);
        try {
            long before = vmFds();
            Result r = Netns.call(ns, () -> dev("--kernel", k.toString(), "--memory", "64M", "--tap", "dev0",
                    "--stop-after", "1"));
            assertEquals(VmmMain.EXIT_STOPPED, r.status(), r.err());
            assertTrue(r.err().contains(", 1 NICs, set up in ") && r.err().contains("nics "), r.err());
            assertTrue(r.err().contains("vm/dev: stopped: --stop-after 1 s"), r.err());
            assertEquals(before, vmFds(), r.err());
            assertEquals(0, ProcessHandle.current().descendants()
                    .filter(h -> h.info().commandLine().orElse("").contains("org.jvmd.vionet.VionetMain")).count(),
                    "a vionet-proc outlived the VM");
            // the tap was the kernel's own (not persistent): it went with the last descriptor
            assertTrue(sh("ip", "-n", ns, "-o", "link").stream().noneMatch(l -> l.contains("dev0")));
        } finally {
            sh("ip", "netns", "del", ns);
        }
    }

    @Test
    void stopAfterWantsAPositiveNumberOfSeconds() {
        assertEquals(VmmMain.EXIT_USAGE, dev("--kernel", "k", "--stop-after", "0").status());
        assertEquals(VmmMain.EXIT_USAGE, dev("--kernel", "k", "--stop-after", "soon").status());
        assertEquals(3000, VmmMain.parseSeconds("3"));
    }

    /**
     * Descriptors of a VM and its NIC (tun, KVM, memfd, eventfd, sockets): the checks around
     * {@code ip} commands cannot count every descriptor, as those leave pipes to the cleaner.
     */
    private static long vmFds() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.map(p -> {
                try {
                    return Files.readSymbolicLink(p).toString();
                } catch (IOException gone) {
                    return "";
                }
            }).filter(t -> t.equals("/dev/net/tun") || t.startsWith("anon_inode:kvm") || t.startsWith("/memfd:")
                    || t.equals("anon_inode:[eventfd]") || t.startsWith("socket:") || t.equals("/dev/kvm")).count();
        }
    }

    private static List<String> sh(String... cmd) throws IOException, InterruptedException {
        return Shell.sh(cmd).lines().toList();
    }

    @Test
    void badUsageExitsWith2() {
        assertEquals(VmmMain.EXIT_USAGE, dev("--memory", "64M").status());
        assertEquals(VmmMain.EXIT_USAGE, dev("--kernel").status());
        assertEquals(VmmMain.EXIT_USAGE, dev("--kernel", "k", "--bogus", "1").status());
        assertEquals(VmmMain.EXIT_USAGE, dev("--kernel", "k", "--memory", "lots").status());
    }

    @Test
    void tooManyVcpusOrOddMemoryAreRefused() throws Exception {
        assumeKvm();
        Path k = syntheticKernel(8L << 20);
        Result r = dev("--kernel", k.toString(), "--vcpus", "0");
        assertEquals(VmmMain.EXIT_ERROR, r.status());
        assertTrue(r.err().contains("vcpus: 0 is outside 1.."), r.err());
        r = dev("--kernel", k.toString(), "--memory", "3M");
        assertEquals(VmmMain.EXIT_ERROR, r.status());
        assertTrue(r.err().contains("memory: memory size must be a multiple of 2 MiB"), r.err());
    }

    @Test
    void sizesTakeKMAndGSuffixes() {
        assertEquals(512L << 20, VmmMain.parseSize("512M"));
        assertEquals(2L << 30, VmmMain.parseSize("2g"));
        assertEquals(64L << 10, VmmMain.parseSize("64K"));
        assertEquals(4096, VmmMain.parseSize("4096"));
        assertThrows(NumberFormatException.class, () -> VmmMain.parseSize("-1M"));
        assertThrows(NumberFormatException.class, () -> VmmMain.parseSize("M"));
    }
}
