package org.jvmd.it.transport;

import java.util.ArrayList;
import java.util.List;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.FdSlot;
import org.jvmd.sys.Fd;

/**
 * The descriptors a device process's init message hands down, each with its slot, in order.
 * Sending them passes their ownership on; {@link #close} frees them if the hand-over fails.
 */
public final class Handover implements AutoCloseable {
    private final List<Fd> fds = new ArrayList<>();
    private final List<FdSlot> slots = new ArrayList<>();

    public Handover add(FdSlot slot, Fd fd) {
        fds.add(fd);
        slots.add(slot);
        return this;
    }

    public Handover add(FdRole role, int index, Fd fd) {
        return add(FdSlot.newBuilder().setRole(role).setIndex(index).build(), fd);
    }

    public List<Fd> fds() {
        return fds;
    }

    public List<FdSlot> slots() {
        return slots;
    }

    @Override
    public void close() {
        Fd.closeAll(fds);
    }
}
