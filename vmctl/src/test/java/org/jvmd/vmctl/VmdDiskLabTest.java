package org.jvmd.vmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.jvmd.testkit.NetNs;
import org.jvmd.testkit.Shell;
import org.jvmd.testkit.NetnsTest;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real Debian booted from its own virtio-blk disk through vmd (tag "lab": scripts/lab-test
 * runs it where KVM boots stock kernels, with {@code -Djvmd.debian.dir} naming the output of
 * scripts/debian-image: debian.raw, vmlinuz, initrd.img, cmdline). The guest reports on its
 * console (guest/README-debian.md): JVMD-DEBIAN-UP when systemd reached multi-user.target
 * with / on /dev/vda, a {@code login:} prompt from the serial getty, JVMD-DEBIAN-NET with
 * the DHCP lease vionet's local interface gave it, and JVMD-DEBIAN-CMD-EXIT after the
 * {@code jvmd.cmd} script the test put on its command line, then it powers off.
 *
 * <p>Each Debian boot costs minutes under kvm-lab's emulation, so the flows are few and
 * each proves several things.
 */
@Tag("lab")
@NetnsTest
class VmdDiskLabTest {
    static final long SLOW = VmdProcess.SLOW;
    /** A Debian boot to the end of its jvmd.cmd under kvm-lab: ~2-3 min quiet, ~8 min on a busy host. */
    static final long BOOT_MS = 240_000 * SLOW;

    @TempDir
    Path dir;
    Path debian;
    Path consoles;
    @AutoClose
    VmdProcess vmd;

    @AfterEach
    void sayGuestResets() {
        if (vmd != null) {
            vmd.sayStockGuestTripleFaults();
        }
    }

    @BeforeEach
    void image() {
        String d = System.getProperty("jvmd.debian.dir");
        assertTrue(d != null, "scripts/lab-test passes -Djvmd.debian.dir (scripts/debian-image's output)");
        debian = Path.of(d);
        for (String f : List.of("debian.raw", "vmlinuz", "initrd.img", "cmdline")) {
            assertTrue(Files.isRegularFile(debian.resolve(f)), "scripts/debian-image made " + f);
        }
        consoles = dir.resolve("consoles");
    }

    void startVmd(NetNs ns, String conf) throws Exception {
        Files.createDirectories(consoles);
        vmd = VmdProcess.start(dir, conf, ns.name(), VmdProcess.LAB_TIMEOUTS, "--console-log-dir", consoles.toString());
    }

    /** A vm block booting the image's kernel with {@code script} as jvmd.cmd, from {@code disks}. */
    String vm(String name, String script, List<String> disks, boolean net) throws IOException {
        String cmdline = Files.readString(debian.resolve("cmdline")).strip() + " jvmd.cmd="
                + Base64.getEncoder().encodeToString(script.getBytes(StandardCharsets.UTF_8));
        StringBuilder b = new StringBuilder("vm \"" + name + "\" {\n  memory 384M\n")
                .append("  boot \"").append(debian.resolve("vmlinuz")).append("\"\n")
                .append("  initrd \"").append(debian.resolve("initrd.img")).append("\"\n")
                .append("  cmdline \"").append(cmdline).append("\"\n");
        for (String d : disks) {
            b.append("  disk ").append(d).append('\n');
        }
        if (net) {
            b.append("  local interface\n");
        }
        return b.append("  disable\n}\n").toString();
    }

    String console(String vm) {
        try {
            return Files.readString(consoles.resolve(vm + ".log"), StandardCharsets.ISO_8859_1).replace("\r", "");
        } catch (IOException e) {
            return "";
        }
    }

    /** Waits for the guest's jvmd.cmd to end and the VM to stop; returns its console. */
    String awaitPoweroff(String vm, long t0) throws Exception {
        vmd.awaitUntil(() -> console(vm).contains("JVMD-DEBIAN-CMD-EXIT"), BOOT_MS, vm + ": jvmd.cmd ends\n" + console(vm));
        vmd.awaitUntil(() -> vmd.vmctl("status", vm).out().lines().skip(1).findFirst().orElse("").contains(" stopped "),
                120_000 * SLOW, vm + " powers off");
        System.out.printf("lab: disk: %s powered off %.1f s after vmctl start%n", vm, (System.nanoTime() - t0) / 1e9);
        return console(vm);
    }

    static void sparseCopy(Path from, Path to) throws Exception {
        TestUser.sh("cp", "--sparse=always", from.toString(), to.toString());
    }

    static String sha256(Path p) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (var in = Files.newInputStream(p)) {
            byte[] buf = new byte[1 << 20];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /**
     * Debian from a raw root disk: multi-user, a login prompt, a DHCP lease from vionet, shown
     * by vmctl status; its script formats a second disk, writes a file, syncs and powers off.
     * A second VM on the same two disks (the first one's locks released when it stopped) finds
     * the file system clean (fsck -n) and the file there.
     */
    @Test
    void debianBootsFromItsDiskFormatsASecondOneAndASecondBootReadsItBackClean(NetNs ns) throws Exception {
        Path root = dir.resolve("root.raw");
        sparseCopy(debian.resolve("debian.raw"), root);
        Path data = dir.resolve("data.raw");
        try (var f = java.nio.channels.FileChannel.open(data, java.nio.file.StandardOpenOption.CREATE_NEW,
                java.nio.file.StandardOpenOption.WRITE)) {
            f.truncate(0);
            f.write(java.nio.ByteBuffer.wrap(new byte[1]), (64L << 20) - 1);
        }
        List<String> disks = List.of("\"" + root + "\"", "\"" + data + "\" format raw");
        // The serial getty prints its prompt on its own time: the script waits for agetty (and
        // a little) before it powers the guest off, so that the prompt is on the console.
        // (No "systemctl is-system-running --wait": the jvmd.cmd unit is part of the boot it
        // would wait for.)
        String write = "set -e\nfindmnt -n -o SOURCE /\n"
                + "for i in $(seq 120); do pgrep -x agetty >/dev/null && break; sleep 1; done; sleep 10\n"
                + "mkfs.ext4 -q -L jvmd-data /dev/vdb\nmount /dev/vdb /mnt\necho jvmd-disk-$((6*7)) > /mnt/hello\n"
                + "sync\numount /mnt\necho JVMD-DATA-WRITTEN\n";
        String read = "set -e\nfsck.ext4 -n /dev/vdb && echo JVMD-FSCK-CLEAN\nmount -o ro /dev/vdb /mnt\n"
                + "echo JVMD-READ-$(cat /mnt/hello)\numount /mnt\n";
        startVmd(ns, vm("deb1", write, disks, true) + vm("deb2", read, disks, false));

        long t0 = System.nanoTime();
        Vmctl.Result r = vmd.vmctlProcess("start", "deb1");
        assertEquals(0, r.status(), r.err() + vmd.logText());
        vmd.awaitUntil(() -> console("deb1").contains("JVMD-DEBIAN-UP"), BOOT_MS, "multi-user.target\n" + console("deb1"));
        System.out.printf("lab: disk: deb1 multi-user %.1f s after vmctl start%n", (System.nanoTime() - t0) / 1e9);
        String status = vmd.vmctl("status", "deb1").out();
        assertTrue(status.contains(" running deb1"), status);
        assertTrue(status.contains(root.toString()) && status.contains(data.toString()), "the disks in status:\n" + status);
        // Nothing named in vm.conf or on vmd's command line: vmm-proc, its vionet-proc and both
        // vioblk-procs dropped to the roles' defaults.
        long pid = Long.parseLong(StatusTableTest.columns(status.lines().skip(1).findFirst().orElseThrow())[1].strip());
        org.jvmd.testkit.Dropped.assertDropped(pid, "_vmd", Path.of("/var/empty"));
        List<ProcessHandle> devices = ProcessHandle.of(pid).orElseThrow().children().toList();
        assertEquals(3, devices.size(), "a vionet-proc and two vioblk-procs: " + devices);
        for (ProcessHandle d : devices) {
            org.jvmd.testkit.Dropped.assertDropped(d.pid(), "_vmd", Path.of("/var/empty"));
        }
        String stats = vmd.vmctl("stats", "deb1").out();
        String[] disk0 = stats.lines().filter(l -> l.strip().startsWith("0 ") && !l.contains("dead")).reduce((a, b) -> b)
                .orElse("").strip().split(" +");
        assertTrue(disk0.length >= 3 && Long.parseLong(disk0[1]) > 0, "the root disk served reads:\n" + stats);
        String c1 = awaitPoweroff("deb1", t0);
        assertTrue(c1.contains("JVMD-DEBIAN-UP") && c1.contains("root=/dev/vda"), c1);
        assertTrue(c1.contains("login:"), "the serial getty's login prompt:\n" + c1);
        assertTrue(c1.matches("(?s).*JVMD-DEBIAN-NET \\S+ 100\\.64\\.\\d+\\.\\d+/\\d+ gw=100\\.64\\..*"),
                "a DHCP lease from vionet's local interface:\n" + c1);
        assertTrue(c1.contains("JVMD-DATA-WRITTEN") && c1.contains("JVMD-DEBIAN-CMD-EXIT 0"), c1);

        long t1 = System.nanoTime();
        r = vmd.vmctlProcess("start", "deb2");
        assertEquals(0, r.status(), "the disks' locks were released when deb1 stopped: " + r.err() + vmd.logText());
        String c2 = awaitPoweroff("deb2", t1);
        assertTrue(c2.contains("JVMD-FSCK-CLEAN"), c2);
        assertTrue(c2.contains("JVMD-READ-jvmd-disk-42"), c2);
        assertTrue(c2.contains("JVMD-DEBIAN-CMD-EXIT 0"), c2);
    }

    /**
     * The Debian disk as a qcow2 base with two VMs, each on a thin image vmctl create made,
     * booted at the same time; each writes its own file; the base is unchanged, both thin
     * images pass qemu-img check and hold their own file.
     */
    @Test
    void twoVmsOnThinImagesOverOneQcow2BaseEachKeepTheirOwnWrites(NetNs ns) throws Exception {
        Path base = dir.resolve("base.qcow2");
        Shell.sh("qemu-img", "convert", "-O", "qcow2", debian.resolve("debian.raw").toString(), base.toString());
        String before = sha256(base);
        List<String> conf = new ArrayList<>();
        for (String v : List.of("thina", "thinb")) {
            Path thin = dir.resolve(v + ".qcow2");
            Vmctl.Result c = VmdProcess.runVmctl(vmdSocketless(), "create", "-b", base.toString(), thin.toString());
            assertEquals(0, c.status(), c.err());
            String script = "set -e\necho " + v + "-was-here > /root/mine\nsync\necho JVMD-MINE-WRITTEN\n";
            conf.add(vm(v, script, List.of("\"" + thin + "\" format qcow2"), false));
        }
        startVmd(ns, String.join("", conf));
        long t0 = System.nanoTime();
        for (String v : List.of("thina", "thinb")) {
            Vmctl.Result r = vmd.vmctlProcess("start", v);
            assertEquals(0, r.status(), r.err() + vmd.logText());
        }
        for (String v : List.of("thina", "thinb")) {
            String c = awaitPoweroff(v, t0);
            assertTrue(c.contains("JVMD-MINE-WRITTEN") && c.contains("JVMD-DEBIAN-CMD-EXIT 0"), c);
        }
        assertEquals(before, sha256(base), "the base image is unchanged");
        for (String v : List.of("thina", "thinb")) {
            Path thin = dir.resolve(v + ".qcow2");
            Shell.sh("qemu-img", "check", thin.toString());
            Path flat = dir.resolve(v + ".raw");
            Shell.sh("qemu-img", "convert", "-O", "raw", thin.toString(), flat.toString());
            String mine = Shell.sh("debugfs", "-R", "cat /root/mine", flat.toString());
            assertTrue(mine.contains(v + "-was-here"), v + ": " + mine);
            Files.delete(flat);
        }
        assertFalse(vmd.logText().contains("Exception"), vmd.logText());
    }

    /** vmctl create needs no vmd: any socket path will do. */
    Path vmdSocketless() {
        return dir.resolve("no-vmd.sock");
    }
}
