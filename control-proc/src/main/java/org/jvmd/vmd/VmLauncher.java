package org.jvmd.vmd;

import java.io.IOException;
import org.jvmd.proto.Termination;
import org.jvmd.vmd.config.VmSpec;

/**
 * Starts VM processes. The registry's state machine only sees this interface, so it is tested
 * without processes; {@link VmmProcSpawner} spawns vmm-proc.
 */
public interface VmLauncher {
    /** What the process reports after {@link #launch} returned. */
    interface Listener {
        /** The guest is booting; {@code tty} is the console pty's path. */
        void started(int pid, String tty);

        /** The VM ended; the launcher has released its resources (taps, fds) before calling this. */
        void terminated(Termination how, String reason);
    }

    /**
     * Sets up the VM's resources and process and returns once the process answered Ready.
     * {@link Listener#started} follows (possibly before this returns).
     *
     * @throws IOException when the VM cannot be started; nothing is left behind
     */
    VmProcess launch(int id, VmSpec spec, Listener listener) throws IOException;

    /**
     * VM {@code id} has stopped, or failed to start, and is not being restarted: what the
     * launcher kept for it across its processes (its console) goes. A reboot is not a stop.
     */
    default void released(int id) {
    }
}
