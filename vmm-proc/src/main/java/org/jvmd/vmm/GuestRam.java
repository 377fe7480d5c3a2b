package org.jvmd.vmm;

import java.util.ArrayList;
import java.util.List;
import org.jvmd.sys.Fd;
import org.jvmd.sys.FileIo;
import org.jvmd.sys.SysException;
import org.jvmd.sys.kvm.VmFd;
import org.jvmd.sys.memory.MappedGuestMemory;
import org.jvmd.sys.memory.Memfd;
import org.jvmd.virtio.GuestFault;

/**
 * Guest RAM: one memfd holding every byte, mapped MAP_SHARED into this process and
 * registered as KVM memory slots, one per contiguous guest-physical range of the
 * {@link MemoryLayout} (below the PCI hole, and above 4 GiB). Device processes map the
 * same memfd with the same ranges.
 */
public final class GuestRam implements AutoCloseable {
    private final MemoryLayout layout;
    private final Fd memfd;
    private final MappedGuestMemory memory;

    private GuestRam(MemoryLayout layout, Fd memfd, MappedGuestMemory memory) {
        this.layout = layout;
        this.memfd = memfd;
        this.memory = memory;
    }

    /** The memfd ranges of {@code layout}: low RAM at gpa 0, the rest at 4 GiB. */
    public static List<MappedGuestMemory.Range> ranges(MemoryLayout layout) {
        List<MappedGuestMemory.Range> r = new ArrayList<>();
        r.add(new MappedGuestMemory.Range(0, layout.lowRamEnd(), 0));
        if (layout.highRamSize() > 0) {
            r.add(new MappedGuestMemory.Range(MemoryLayout.HIGH_RAM_START, layout.highRamSize(), layout.lowRamEnd()));
        }
        return r;
    }

    /** Creates the memfd, maps it and registers every range with {@code vm} (slots 0, 1). */
    public static GuestRam create(String name, MemoryLayout layout, VmFd vm) throws SysException {
        Fd memfd = Memfd.create(name, layout.memorySize());
        MappedGuestMemory mem = null;
        try {
            mem = MappedGuestMemory.map(memfd, ranges(layout));
            int slot = 0;
            for (MappedGuestMemory.Range r : ranges(layout)) {
                vm.setUserMemoryRegion(slot++, 0, r.gpa(), r.size(), mem.hostAddress(r.gpa(), r.size()));
            }
            return new GuestRam(layout, memfd, mem);
        } catch (GuestFault f) {
            throw new IllegalStateException("a range of the layout is not mapped: " + f.getMessage(), f);
        } catch (SysException | RuntimeException e) {
            if (mem != null) {
                mem.close();
            }
            memfd.close();
            throw e;
        }
    }

    public MemoryLayout layout() {
        return layout;
    }

    public MappedGuestMemory memory() {
        return memory;
    }

    /**
     * The guest memory in use: the bytes the memfd has allocated (fstat's st_blocks). A page
     * of a memfd is allocated when it is first written or touched, by the guest through KVM
     * or by a device process through its mapping, and stays until the VM ends; an allocated
     * page is resident unless the host swapped it out.
     */
    public long residentBytes() throws SysException {
        return FileIo.fstat(memfd).allocatedBytes();
    }

    /** The memfd (still owned here); dup it to hand it to a device process. */
    public Fd memfd() {
        return memfd;
    }

    @Override
    public void close() {
        memory.close();
        memfd.close();
    }
}
