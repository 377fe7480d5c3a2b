package org.jvmd.vmd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvmd.sys.Fd;
import org.jvmd.testkit.RequiresRoot;
import org.jvmd.vmd.config.InstancePolicy;
import org.jvmd.vmd.config.Owner;
import org.jvmd.vmd.config.VmSpec;

/**
 * The kernel and initrd of a VM are opened by root vmd, but a file a non-root caller named is
 * loaded into its guest only when that caller could read it itself (vmd's vm_checkaccess,
 * {@link CallerAccess}, the same check as for disk images).
 */
@RequiresRoot
class BootFilesTest {
    static final int JOE = DiskImagesTest.JOE;

    @TempDir
    Path dir;
    Path kernel;
    Path initrd;

    @BeforeEach
    void files() throws Exception {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        kernel = Files.writeString(dir.resolve("bzImage"), "k");
        initrd = Files.writeString(dir.resolve("initrd"), "i");
        Files.setPosixFilePermissions(kernel, PosixFilePermissions.fromString("rw-r--r--"));
        Files.setPosixFilePermissions(initrd, PosixFilePermissions.fromString("rw-r--r--"));
    }

    static VmSpec vm(Path k, Optional<Path> i, OptionalInt kernelBy, OptionalInt initrdBy) {
        return new VmSpec("v", Optional.of("tpl"), 64L << 20, 1, k, i, "", List.of(), List.of(), Owner.ROOT, true,
                InstancePolicy.NONE, Optional.empty(), kernelBy, initrdBy);
    }

    static String refused(VmSpec spec) {
        return assertThrows(CallerAccess.Refused.class,
                () -> VmmProcSpawner.openBootFiles(spec, DiskImagesTest.ACCOUNTS)).getMessage();
    }

    static int opened(VmSpec spec) throws Exception {
        List<Fd> fds = VmmProcSpawner.openBootFiles(spec, DiskImagesTest.ACCOUNTS);
        Fd.closeAll(fds);
        return fds.size();
    }

    @Test
    void aRootOnlyFileIsRefusedAsKernelOrInitrdToACallerWhoCannotReadIt() throws Exception {
        Path shadow = Path.of("/etc/shadow");
        OptionalInt joe = OptionalInt.of(JOE);
        assertEquals("kernel /etc/shadow: Permission denied", refused(vm(shadow, Optional.empty(), joe, OptionalInt.empty())));
        assertEquals("initrd /etc/shadow: Permission denied",
                refused(vm(kernel, Optional.of(shadow), OptionalInt.empty(), joe)));
        // vm.conf's (or root's) files are root's to name
        assertEquals(2, opened(vm(shadow, Optional.of(shadow), OptionalInt.empty(), OptionalInt.empty())));
        // readable ones pass
        assertEquals(2, opened(vm(kernel, Optional.of(initrd), joe, joe)));
    }

    @Test
    void theCallerMustReachTheFileAndItMustBeARegularFile() throws Exception {
        Path hidden = Files.createDirectory(dir.resolve("hidden"));
        Path k = Files.writeString(hidden.resolve("bzImage"), "k");
        Files.setPosixFilePermissions(k, PosixFilePermissions.fromString("rw-r--r--"));
        Files.setPosixFilePermissions(hidden, PosixFilePermissions.fromString("rwx------"));
        OptionalInt joe = OptionalInt.of(JOE);
        assertEquals("kernel " + k + ": Permission denied", refused(vm(k, Optional.empty(), joe, OptionalInt.empty())));
        // nor through a symbolic link where it may search
        Path link = Files.createSymbolicLink(dir.resolve("link"), k);
        assertEquals("initrd " + link + ": Permission denied",
                refused(vm(kernel, Optional.of(link), OptionalInt.empty(), joe)));
        Path fine = Files.createSymbolicLink(dir.resolve("fine"), kernel);
        assertEquals(1, opened(vm(fine, Optional.empty(), joe, OptionalInt.empty())), "a link to a file it may read");
        assertEquals("initrd " + dir + ": not a regular file",
                refused(vm(kernel, Optional.of(dir), OptionalInt.empty(), joe)));
        assertEquals("kernel " + dir.resolve("nope") + ": No such file or directory",
                refused(vm(dir.resolve("nope"), Optional.empty(), joe, OptionalInt.empty())));
        Path own = Files.writeString(dir.resolve("own"), "o");
        Files.setPosixFilePermissions(own, PosixFilePermissions.fromString("r--------"));
        Files.setAttribute(own, "unix:uid", JOE);
        assertEquals(1, opened(vm(own, Optional.empty(), joe, OptionalInt.empty())), "its own file, owner-readable");
    }
}
