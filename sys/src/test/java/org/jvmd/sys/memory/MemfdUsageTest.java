package org.jvmd.sys.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.jvmd.sys.Fd;
import org.jvmd.sys.FileIo;

/**
 * fstat's st_blocks of a memfd is the guest memory in use (vmctl status's CURMEM): nothing
 * for a new memfd of any size, then the pages written through a shared mapping.
 */
class MemfdUsageTest {
    private static final long PAGE = 4096;
    private static final long MIB = 1L << 20;

    @Test
    void allocatedBytesFollowThePagesWrittenThroughAMapping() throws Exception {
        try (Fd memfd = Memfd.create("jvmd-usage-test", 64 * MIB);
                MappedGuestMemory mem = MappedGuestMemory.map(memfd, 64 * MIB)) {
            FileIo.Stat fresh = FileIo.fstat(memfd);
            assertEquals(64 * MIB, fresh.size());
            assertEquals(0, fresh.allocatedBytes(), "a new memfd has nothing allocated");
            for (long a = 0; a < 8 * MIB; a += PAGE) {
                mem.writeByte(a, (byte) 1);
            }
            long touched = FileIo.fstat(memfd).allocatedBytes();
            assertTrue(touched >= 8 * MIB && touched < 16 * MIB, "8 MiB written, " + touched + " allocated");
            for (long a = 0; a < 8 * MIB; a += PAGE) {
                mem.writeByte(a, (byte) 2);
            }
            assertEquals(touched, FileIo.fstat(memfd).allocatedBytes(), "writing the same pages again adds none");
            mem.writeByte(32 * MIB, (byte) 3);
            assertTrue(FileIo.fstat(memfd).allocatedBytes() > touched, "one more page");
        }
    }
}
