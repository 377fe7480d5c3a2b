package org.jvmd.vmd;

import java.io.IOException;
import org.jvmd.proto.StatsReply;

/** A running VM's process as the registry drives it (vmm-proc in production). */
public interface VmProcess {
    /** The VM process's pid. */
    int pid();

    /** Stops the vCPUs (answers when paused). */
    void pause() throws IOException;

    /** Resumes the vCPUs. */
    void unpause() throws IOException;

    /**
     * Asks the guest to power off; with {@code force}, ends the VM at once. Termination is
     * reported through {@link VmLauncher.Listener#terminated}.
     */
    void stop(boolean force) throws IOException;

    /** Kills the process (SIGKILL) and releases everything vmd holds for the VM (taps, fds). */
    void kill();

    /**
     * The guest memory in use (vmctl status's CURMEM) as the VM process last reported it, or
     * -1 before its first report.
     */
    long residentBytes();

    /** vmctl log verbose|brief: the VM process's debug lines and its device processes'. */
    void setVerbose(boolean verbose) throws IOException;

    /** Per-NIC counters. */
    StatsReply stats() throws IOException;
}
