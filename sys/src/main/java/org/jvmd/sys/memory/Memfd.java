package org.jvmd.sys.memory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.SysException;

/** Guest RAM as a memfd: created and sized by the VMM, mapped MAP_SHARED by every process that needs it. */
public final class Memfd {
    private Memfd() {}

    /** A close-on-exec memfd of {@code size} bytes (sparse until touched). */
    public static Fd create(String name, long size) throws SysException {
        Fd fd = LibC.memfdCreate(name, LibC.MFD_CLOEXEC);
        try {
            LibC.ftruncate(fd.num(), size);
        } catch (SysException e) {
            fd.close();
            throw e;
        }
        return fd;
    }

    /**
     * Maps {@code [offset, offset+size)} of {@code fd} read-write MAP_SHARED. The mapping
     * lives until {@code arena} closes (which unmaps it); a closed arena makes later
     * accesses fail with IllegalStateException instead of touching unmapped memory.
     */
    @SuppressWarnings("restricted")
    public static MemorySegment map(Fd fd, long offset, long size, Arena arena) throws SysException {
        MemorySegment m = LibC.mmap(size, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd.num(), offset);
        long addr = m.address();
        return m.reinterpret(size, arena, s -> {
            try {
                LibC.munmap(MemorySegment.ofAddress(addr), size);
            } catch (SysException e) {
                throw new IllegalStateException(e);
            }
        });
    }
}
