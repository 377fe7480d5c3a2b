package org.jvmd.vmd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.testkit.RequiresRoot;
import org.jvmd.vmd.config.Caller;
import org.jvmd.vmd.config.InstancePolicy;
import org.jvmd.vmd.config.Owner;
import org.jvmd.vmd.config.VmSpec;

/**
 * vmd's vm_checkaccess on the descriptors a caller passed ({@link CallerAccess#checkPassed}):
 * a regular file, open for reading (and writing, for a disk), whose permission bits let the
 * caller read (and write) it; and the boot files of a VM taken from those descriptors, never
 * from the caller's path ({@link VmmProcSpawner#openBootFiles}).
 */
@RequiresRoot
class PassedFilesTest {
    static final Caller JOE = new Caller(DiskImagesTest.JOE, DiskImagesTest.ACCOUNTS);

    @TempDir
    Path dir;
    Path kernel;
    final List<Fd> held = new ArrayList<>();

    @BeforeEach
    void files() throws Exception {
        kernel = Files.writeString(dir.resolve("bzImage"), "k");
        Files.setPosixFilePermissions(kernel, PosixFilePermissions.fromString("rw-r--r--"));
    }

    @AfterEach
    void close() {
        Fd.closeAll(held);
    }

    private Fd open(Path p, int flags) throws IOException {
        Fd fd = LibC.open(p.toString(), flags | LibC.O_CLOEXEC);
        held.add(fd);
        return fd;
    }

    private static String refused(String what, Fd fd, Caller c, boolean write) {
        return assertThrows(CallerAccess.Refused.class, () -> CallerAccess.checkPassed(what, fd, c, write)).getMessage();
    }

    @Test
    void aRootOnlyFileIsRefusedToACallerWhoCannotReadItThoughItHoldsADescriptor() throws Exception {
        Fd shadow = open(Path.of("/etc/shadow"), LibC.O_RDONLY); // as if handed to joe by someone else
        assertEquals("kernel /etc/shadow: Permission denied", refused("kernel /etc/shadow", shadow, JOE, false));
        CallerAccess.checkPassed("kernel /etc/shadow", shadow, Caller.root(), false); // root's own
        CallerAccess.checkPassed("kernel " + kernel, open(kernel, LibC.O_RDONLY), JOE, false);
    }

    @Test
    void aDirectoryAFifoAWriteOnlyOrAPathDescriptorIsRefused() throws Exception {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        assertEquals("initrd: not a regular file",
                refused("initrd", open(dir, LibC.O_RDONLY | LibC.O_DIRECTORY), Caller.root(), false));
        Fd[] pipe = LibC.socketpair(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0);
        held.addAll(List.of(pipe));
        assertEquals("kernel: not a regular file", refused("kernel", pipe[0], Caller.root(), false));
        Path fifo = dir.resolve("fifo");
        new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor();
        assertEquals("kernel: not a regular file",
                refused("kernel", open(fifo, LibC.O_RDONLY | LibC.O_NONBLOCK), Caller.root(), false));
        assertEquals("kernel: descriptor not open for reading", refused("kernel", open(kernel, LibC.O_WRONLY), JOE, false));
        assertEquals("kernel: descriptor not open for reading", refused("kernel", open(kernel, LibC.O_PATH), JOE, false));
    }

    @Test
    void aDiskNeedsADescriptorOpenForWritingAndWritePermission() throws Exception {
        Path img = Files.writeString(dir.resolve("joe.img"), "j");
        Files.setAttribute(img, "unix:uid", DiskImagesTest.JOE);
        Files.setPosixFilePermissions(img, PosixFilePermissions.fromString("rw-------"));
        assertEquals("disk 0: descriptor not open for writing (a disk needs O_RDWR)",
                refused("disk 0", open(img, LibC.O_RDONLY), JOE, true));
        CallerAccess.checkPassed("disk 0", open(img, LibC.O_RDWR), JOE, true);
        Files.setPosixFilePermissions(img, PosixFilePermissions.fromString("r--r--r--"));
        assertEquals("disk 0: Permission denied", refused("disk 0", open(img, LibC.O_RDWR), JOE, true),
                "readable is not enough for a disk the guest writes");
        Path shared = Files.writeString(dir.resolve("shared.img"), "s");
        Files.setAttribute(shared, "unix:gid", DiskImagesTest.GID_VMUSERS);
        Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rw-rw----"));
        CallerAccess.checkPassed("disk 0", open(shared, LibC.O_RDWR), JOE, true);
        assertEquals("disk 0: Permission denied",
                refused("disk 0", open(shared, LibC.O_RDWR), new Caller(DiskImagesTest.JOE + 1, DiskImagesTest.ACCOUNTS), true));
    }

    static VmSpec vm(Path k, Optional<Path> i, Optional<Fd> kernelFd, Optional<Fd> initrdFd) {
        return new VmSpec("v", Optional.of("tpl"), 64L << 20, 1, k, i, "", List.of(), List.of(), Owner.ROOT, true,
                InstancePolicy.NONE, Optional.empty(), kernelFd, initrdFd);
    }

    @Test
    void bootFilesComeFromThePassedDescriptorsNotTheNamedPaths() throws Exception {
        Fd passed = open(kernel, LibC.O_RDONLY);
        Files.delete(kernel);
        Files.writeString(kernel, "impostor");
        List<Fd> fds = VmmProcSpawner.openBootFiles(vm(kernel, Optional.of(Path.of("/etc/shadow")), Optional.of(passed),
                Optional.of(open(Path.of("/etc/hostname"), LibC.O_RDONLY))));
        held.addAll(fds);
        assertEquals("k", Files.readString(fds.get(0).procPath()));
        assertEquals(Files.readString(Path.of("/etc/hostname")), Files.readString(fds.get(1).procPath()));
        // vm.conf's files (no descriptor) vmd opens itself
        List<Fd> conf = VmmProcSpawner.openBootFiles(vm(kernel, Optional.empty(), Optional.empty(), Optional.empty()));
        held.addAll(conf);
        assertEquals("impostor", Files.readString(conf.get(0).procPath()));
        assertEquals("kernel " + dir.resolve("nope") + ": No such file or directory", assertThrows(CallerAccess.Refused.class,
                () -> VmmProcSpawner.openBootFiles(vm(dir.resolve("nope"), Optional.empty(), Optional.empty(),
                        Optional.empty()))).getMessage());
        assertEquals("kernel " + dir + ": not a regular file", assertThrows(CallerAccess.Refused.class,
                () -> VmmProcSpawner.openBootFiles(vm(dir, Optional.empty(), Optional.empty(), Optional.empty())))
                .getMessage());
    }
}
