package org.jvmd.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** flock(2) as vmd uses it on disk images: one exclusive holder per file, kept by duplicates. */
class FlockTest {
    @TempDir
    Path dir;

    @Test
    void aSecondOpenCannotTakeTheLockUntilEveryDuplicateOfTheFirstIsClosed() throws Exception {
        Path image = Files.createFile(dir.resolve("disk.img"));
        Fd first = LibC.open(image.toString(), LibC.O_RDWR);
        LibC.flock(first, LibC.LOCK_EX | LibC.LOCK_NB);
        Fd handed = first.dup(); // as the copy sent to vmm-proc: the same open file description
        try (Fd second = LibC.open(image.toString(), LibC.O_RDWR)) {
            SysException e = assertThrows(SysException.class,
                    () -> LibC.flock(second, LibC.LOCK_EX | LibC.LOCK_NB));
            assertEquals(Errno.EAGAIN, e.errno());
            assertEquals("flock", e.call());
            first.close();
            assertThrows(SysException.class, () -> LibC.flock(second, LibC.LOCK_EX | LibC.LOCK_NB),
                    "the duplicate still holds the lock");
            handed.close();
            LibC.flock(second, LibC.LOCK_EX | LibC.LOCK_NB);
        }
    }
}
