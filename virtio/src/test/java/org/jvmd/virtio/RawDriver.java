package org.jvmd.virtio;

/**
 * A driver that writes whatever a test says, valid or not: raw descriptors, raw available
 * heads, any avail.idx. For the hostile-guest tests; well-behaved tests use DriverQueue.
 */
final class RawDriver {
    final GuestMemory memory;
    final RingLayout layout;
    int availIdx;

    RawDriver(GuestMemory memory, RingLayout layout) {
        this.memory = memory;
        this.layout = layout;
    }

    RawDriver desc(int index, long addr, long len, int flags, int next) throws GuestFault {
        DriverQueue.writeDescriptor(memory, layout.desc(), index, addr, (int) len, flags, next);
        return this;
    }

    /** A descriptor in an indirect table at {@code table}. */
    RawDriver indirectDesc(long table, int index, long addr, long len, int flags, int next) throws GuestFault {
        DriverQueue.writeDescriptor(memory, table, index, addr, (int) len, flags, next);
        return this;
    }

    /** Puts heads in the available ring and publishes them with one release store. */
    RawDriver offer(int... heads) throws GuestFault {
        for (int head : heads) {
            memory.writeShort(layout.availRing(availIdx & (layout.size() - 1)), (short) head);
            availIdx = (availIdx + 1) & 0xffff;
        }
        memory.writeShortRelease(layout.availIdx(), (short) availIdx);
        return this;
    }

    void setAvailIdx(int idx) throws GuestFault {
        availIdx = idx & 0xffff;
        memory.writeShortRelease(layout.availIdx(), (short) idx);
    }

    void setAvailFlags(int flags) throws GuestFault {
        memory.writeShort(layout.availFlags(), (short) flags);
    }

    void setUsedEvent(int event) throws GuestFault {
        memory.writeShort(layout.usedEvent(), (short) event);
    }

    int usedIdx() throws GuestFault {
        return memory.readShortAcquire(layout.usedIdx()) & 0xffff;
    }

    int usedFlags() throws GuestFault {
        return memory.readShort(layout.usedFlags()) & 0xffff;
    }

    int availEvent() throws GuestFault {
        return memory.readShort(layout.availEvent()) & 0xffff;
    }

    int usedId(int slot) throws GuestFault {
        return memory.readInt(layout.usedElem(slot & (layout.size() - 1)));
    }

    int usedLen(int slot) throws GuestFault {
        return memory.readInt(layout.usedElem(slot & (layout.size() - 1)) + 4);
    }
}
