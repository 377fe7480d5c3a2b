package org.jvmd.sys.device;

import java.lang.System.Logger.Level;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.Fd;
import org.jvmd.sys.SysException;

/**
 * A device's interrupts: one irqfd per MSI-X vector (KVM turns a write into the guest's
 * interrupt). A vector without one, or whose write fails, is warned about once and then
 * dropped quietly: the guest chose it, and nothing logs per packet.
 */
public final class Irqfds {
    private static final System.Logger LOG = System.getLogger(Irqfds.class.getName());

    private final Fd[] calls;
    private final boolean[] warned;

    /** {@code calls[v]} may be null (not given). */
    public Irqfds(Fd[] calls) {
        this.calls = calls;
        this.warned = new boolean[calls.length];
    }

    /** Interrupts the guest on {@code vector}. */
    public void signal(int vector) {
        Fd fd = vector >= 0 && vector < calls.length ? calls[vector] : null;
        if (fd == null) {
            if (vector >= 0 && vector < warned.length && !warned[vector]) {
                warned[vector] = true;
                LOG.log(Level.WARNING, "no irqfd for MSI-X vector " + vector);
            }
            return;
        }
        try {
            EventFd.signal(fd, 1);
        } catch (SysException e) {
            if (!warned[vector]) {
                warned[vector] = true;
                LOG.log(Level.WARNING, "irqfd of vector " + vector + ": " + e.getMessage());
            }
        }
    }
}
