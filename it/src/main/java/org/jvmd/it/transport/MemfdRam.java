package org.jvmd.it.transport;

import org.jvmd.sys.Fd;
import org.jvmd.sys.SysException;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.sys.memory.Memfd;
import org.jvmd.virtio.GuestAllocator;

/**
 * A simulated guest's RAM: a memfd (handed to the device process), this process's mapping
 * of it, and an allocator over it from guest-physical 4096 on (page 0 stays unused, as in a
 * real guest).
 */
public final class MemfdRam implements AutoCloseable {
    private final Fd memfd;
    private final MappedGuestMemory mem;
    private final GuestAllocator alloc;

    private MemfdRam(Fd memfd, MappedGuestMemory mem) {
        this.memfd = memfd;
        this.mem = mem;
        this.alloc = new GuestAllocator(mem, 4096, mem.size());
    }

    /** RAM for {@code need} bytes of rings and buffers, with 1 MiB of room, in whole 2 MiB. */
    public static MemfdRam create(String name, long need) throws SysException {
        long size = align(need + (1 << 20), 2 << 20);
        Fd memfd = Memfd.create(name, size);
        try {
            return new MemfdRam(memfd, MappedGuestMemory.map(memfd, size));
        } catch (SysException | RuntimeException e) {
            memfd.close();
            throw e;
        }
    }

    /** {@code v} rounded up to a multiple of {@code a}. */
    public static long align(long v, long a) {
        return (v + a - 1) / a * a;
    }

    public Fd memfd() {
        return memfd;
    }

    public MappedGuestMemory memory() {
        return mem;
    }

    public GuestAllocator allocator() {
        return alloc;
    }

    @Override
    public void close() {
        mem.close();
        memfd.close();
    }
}
