package org.jvmd.vmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jvmd.qcow2.QemuImg;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** vmctl create, judged by qemu-img info / check / compare; no vmd anywhere. */
class VmctlCreateTest {
    @TempDir
    Path dir;

    Vmctl.Result vmctl(String... args) {
        return VmctlRun.inJvm(args);
    }

    String p(String name) {
        return dir.resolve(name).toString();
    }

    /** qemu-img info --output=json, one field. */
    static String info(String img, String field) throws Exception {
        String json = QemuImg.ok("qemu-img", "info", "--output=json", img);
        Matcher m = Pattern.compile("\"" + Pattern.quote(field) + "\":\\s*\"?([^\",\\n]*)\"?").matcher(json);
        return m.find() ? m.group(1) : null;
    }

    @Test
    void createsQcow2ThatQemuImgAccepts() throws Exception {
        Vmctl.Result r = vmctl("create", "-s", "1G", p("disk.qcow2"));
        assertEquals(0, r.status(), r.err());
        assertEquals("vmctl: qcow2 imagefile created\n", r.err());
        assertEquals("qcow2", info(p("disk.qcow2"), "format"));
        assertEquals("1073741824", info(p("disk.qcow2"), "virtual-size"));
        QemuImg.check(dir.resolve("disk.qcow2"), false);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("disk.qcow2"))));
    }

    @Test
    void formatComesFromPrefixOrExtension() throws Exception {
        assertEquals(0, vmctl("create", "-s", "10M", p("a.img")).status());
        assertEquals("raw", info(p("a.img"), "format"));
        assertEquals("10485760", info(p("a.img"), "virtual-size"));
        assertEquals(0, vmctl("create", "-s", "10M", "qcow2:" + p("b.img")).status());
        assertEquals("qcow2", info(p("b.img"), "format"));
        QemuImg.check(dir.resolve("b.img"), false);
        Vmctl.Result r = vmctl("create", "-s", "2M", "raw:" + p("c.qcow2"));
        assertEquals("vmctl: raw imagefile created\n", r.err());
        assertEquals("raw", info(p("c.qcow2"), "format"));
        assertEquals(0, vmctl("create", "-s", "2M", p("D.QCOW2")).status());
        assertEquals("qcow2", info(p("D.QCOW2"), "format"));
    }

    @Test
    void sizesAreScaledAndRoundedToTheMegabyte() throws Exception {
        Vmctl.Result r = vmctl("create", "-s", "1536K", p("r.qcow2"));
        assertEquals(0, r.status());
        assertEquals("vmctl: disk size rounded to 1.0M\nvmctl: qcow2 imagefile created\n", r.err());
        assertEquals("1048576", info(p("r.qcow2"), "virtual-size"));
        assertEquals(0, vmctl("create", "-s", "2T", p("big.qcow2")).status());
        assertEquals("2199023255552", info(p("big.qcow2"), "virtual-size"));
        QemuImg.check(dir.resolve("big.qcow2"), false);
        assertEquals("vmctl: disk size must be at least 1MB\n", vmctl("create", "-s", "100K", p("s.img")).err());
        assertEquals("vmctl: invalid disk size: 12Q: Invalid argument\n", vmctl("create", "-s", "12Q", p("s.img")).err());
        assertFalse(Files.exists(dir.resolve("s.img")));
    }

    @Test
    void thinImagesOverBasesFormAChain() throws Exception {
        Files.createDirectories(dir.resolve("sub"));
        assertEquals(0, vmctl("create", "-s", "64M", p("sub/base.qcow2")).status());
        QemuImg.ok("qemu-io", "-c", "write -P 0x42 1M 3M", p("sub/base.qcow2"));
        // relative to the working directory: stored relative to the new image's directory
        String rel = Path.of("").toAbsolutePath().relativize(dir.resolve("sub/base.qcow2")).toString();
        Vmctl.Result r = vmctl("create", "-b", rel, p("thin1.qcow2"));
        assertEquals(0, r.status(), r.err());
        assertEquals("vmctl: qcow2 imagefile created\n", r.err());
        assertEquals("sub/base.qcow2", info(p("thin1.qcow2"), "backing-filename"));
        assertEquals("qcow2", info(p("thin1.qcow2"), "backing-filename-format"));
        assertEquals("67108864", info(p("thin1.qcow2"), "virtual-size"));
        QemuImg.check(dir.resolve("thin1.qcow2"), false);
        // absolute names stay absolute; a thin image over a thin image; a larger size is fine
        assertEquals(0, vmctl("create", "-b", p("thin1.qcow2"), "-s", "128M", p("thin2.qcow2")).status());
        assertEquals(p("thin1.qcow2"), info(p("thin2.qcow2"), "backing-filename"));
        assertEquals("134217728", info(p("thin2.qcow2"), "virtual-size"));
        QemuImg.check(dir.resolve("thin2.qcow2"), false);
        String chain = QemuImg.ok("qemu-img", "info", "--backing-chain", p("thin2.qcow2"));
        assertTrue(chain.contains("base.qcow2"), chain);
        QemuImg.ok("qemu-img", "compare", "-f", "qcow2", "-F", "qcow2", p("sub/base.qcow2"), p("thin2.qcow2"));
    }

    @Test
    void thinImageOverARawBase() throws Exception {
        byte[] data = new byte[3 << 20];
        new Random(1).nextBytes(data);
        Files.write(dir.resolve("base.raw"), data);
        assertEquals(0, vmctl("create", "-b", p("base.raw"), p("thin.qcow2")).status());
        assertEquals("raw", info(p("thin.qcow2"), "backing-filename-format"));
        assertEquals(Integer.toString(3 << 20), info(p("thin.qcow2"), "virtual-size"));
        QemuImg.check(dir.resolve("thin.qcow2"), false);
        QemuImg.ok("qemu-img", "compare", "-f", "raw", "-F", "qcow2", p("base.raw"), p("thin.qcow2"));
    }

    @Test
    void inputCopiesConvertBetweenFormats() throws Exception {
        byte[] data = new byte[5 << 20];
        Random r = new Random(2);
        for (int i = 0; i < 40; i++) {
            int off = r.nextInt(data.length - 70000);
            for (int k = 0; k < 70000; k++) {
                data[off + k] = (byte) r.nextInt();
            }
        }
        Files.write(dir.resolve("src.raw"), data);
        Vmctl.Result c = vmctl("create", "-i", p("src.raw"), p("full.qcow2"));
        assertEquals(0, c.status(), c.err());
        assertEquals("vmctl: qcow2 imagefile created\n", c.err());
        QemuImg.check(dir.resolve("full.qcow2"), false);
        QemuImg.ok("qemu-img", "compare", "-f", "raw", "-F", "qcow2", p("src.raw"), p("full.qcow2"));
        // a thin image's whole chain copied into one raw file
        assertEquals(0, vmctl("create", "-b", p("full.qcow2"), p("thin.qcow2")).status());
        QemuImg.ok("qemu-io", "-c", "write -P 0x77 100k 50k", p("thin.qcow2"));
        assertEquals(0, vmctl("create", "-i", p("thin.qcow2"), p("flat.raw")).status());
        QemuImg.ok("qemu-img", "compare", "-f", "qcow2", "-F", "raw", p("thin.qcow2"), p("flat.raw"));
        assertEquals("none", java.util.Objects.requireNonNullElse(info(p("flat.raw"), "backing-filename"), "none"));
        // a bigger copy, rounded up to the megabyte
        assertEquals(0, vmctl("create", "-i", p("src.raw"), "-s", "8M", p("big.qcow2")).status());
        assertEquals("8388608", info(p("big.qcow2"), "virtual-size"));
        QemuImg.check(dir.resolve("big.qcow2"), false);
        assertEquals("vmctl: size cannot be smaller than input disk size\n",
                vmctl("create", "-i", p("src.raw"), "-s", "1M", p("small.qcow2")).err());
    }

    @Test
    void errorsAreVmctls() throws Exception {
        assertEquals(0, vmctl("create", "-s", "4M", p("base.qcow2")).status());
        Vmctl.Result r = vmctl("create", "-b", p("base.qcow2"), "-i", p("base.qcow2"), p("x.qcow2"));
        assertEquals(1, r.status());
        assertEquals("vmctl: conflicting -b and -i arguments\n", r.err());
        r = vmctl("create", "-b", p("base.qcow2"), "raw:" + p("x.img"));
        assertEquals("vmctl: base images require qcow2 disk format\n", r.err());
        r = vmctl("create", p("x.qcow2"));
        assertEquals(1, r.status());
        assertEquals("could not create " + p("x.qcow2") + ": missing size argument\n"
                + "usage:\tvmctl [-v] [-s socket] create [-b base | -i disk] [-s size] disk\n", r.err());
        r = vmctl("create", "-s", "4M", p("base.qcow2"));
        assertEquals(1, r.status());
        assertEquals("vmctl: create imagefile operation failed: File exists\n", r.err());
        r = vmctl("create", "-b", p("base.qcow2"), "-s", "2M", p("y.qcow2"));
        assertEquals(1, r.status());
        assertTrue(r.err().startsWith("vmctl: base image ") && r.err().contains("is larger than the requested disk size"),
                r.err());
        r = vmctl("create", "-b", p("missing.qcow2"), p("z.qcow2"));
        assertEquals(1, r.status());
        assertTrue(r.err().startsWith("vmctl: invalid base image " + p("missing.qcow2") + ": "), r.err());
        assertFalse(Files.exists(dir.resolve("z.qcow2")));
        r = vmctl("create", "-s", "4M", p("nodir/x.qcow2"));
        assertEquals("vmctl: create imagefile operation failed: No such file or directory\n", r.err());
        r = vmctl("create", "-s", "4M");
        assertEquals(1, r.status());
        assertTrue(r.err().startsWith("usage:\tvmctl [-v] [-s socket] create"), r.err());
    }

    @Test
    void aBackingLoopIsRefused() throws Exception {
        assertEquals(0, vmctl("create", "-s", "4M", p("a.qcow2")).status());
        assertEquals(0, vmctl("create", "-b", p("a.qcow2"), p("b.qcow2")).status());
        // make a's base b: a loop qemu-img itself would refuse to create
        QemuImg.ok("qemu-img", "rebase", "-u", "-f", "qcow2", "-b", p("b.qcow2"), "-F", "qcow2", p("a.qcow2"));
        Vmctl.Result r = vmctl("create", "-b", p("b.qcow2"), p("c.qcow2"));
        assertEquals(1, r.status());
        assertTrue(r.err().contains("backing file loop"), r.err());
        r = vmctl("create", "-i", p("b.qcow2"), p("d.raw"));
        assertEquals(1, r.status());
        assertTrue(r.err().startsWith("vmctl: failed to open source image file: ") && r.err().contains("loop"), r.err());
    }

    @Test
    void createIsAPrefixOfItsOwn() {
        assertEquals("create", new Vmctl(System.in, System.out, System.err).lookup("cr").name());
        assertEquals("console", new Vmctl(System.in, System.out, System.err).lookup("con").name());
    }
}
