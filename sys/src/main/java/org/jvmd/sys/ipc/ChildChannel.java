package org.jvmd.sys.ipc;

import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.SysException;
import org.jvmd.sys.proc.Spawner;

/**
 * The child side of a spawn: the channel to the parent sits at {@link Spawner#CHANNEL_FD}
 * (vmd's {@code -X fd}). End of file on it means the parent is gone.
 */
public final class ChildChannel {
    private ChildChannel() {}

    /** Adopts descriptor 3 as this process's channel to its parent (and marks it close-on-exec). */
    public static Channel inherit() throws SysException {
        return inherit(Spawner.CHANNEL_FD);
    }

    public static Channel inherit(int fd) throws SysException {
        try {
            LibC.setCloseOnExec(fd, true);
        } catch (SysException e) {
            throw new SysException("channel fd " + fd + ": " + e.call(), e.errno());
        }
        return new Channel(Fd.adopt(fd));
    }
}
