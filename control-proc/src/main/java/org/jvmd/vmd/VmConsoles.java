package org.jvmd.vmd;

import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import org.jvmd.sys.Fd;
import org.jvmd.sys.Terminal;

/**
 * The VMs' console ptys, opened by vmd itself (vm_opentty) and kept for as long as the VM is
 * vmd's to run: a guest that reboots comes back in a new vmm-proc on the same tty (vmd keeps
 * the tty across a reboot), so {@code vmctl console} stays attached and {@code vmctl status}
 * keeps its TTY. vmm-proc gets a duplicate of the master (FD_CONSOLE); the slave stays open here.
 * vmd never takes a pty path from a VM process: the path it reports and changes the owner of
 * is the one it opened.
 */
final class VmConsoles implements AutoCloseable {
    private record Held(Terminal.Console tty, int uid, int gid) {
    }

    private final Map<Integer, Held> byVm = new HashMap<>();

    /** For one vmm-proc: a duplicate of the console's master (FD_CONSOLE) and the slave's path. */
    record Attach(Fd master, String path) {
    }

    /**
     * VM {@code id}'s console for its next vmm-proc: the one it has, or a new one whose slave
     * {@code uid}:{@code gid} own (a VM started again under another owner gets a new one).
     */
    synchronized Attach attach(int id, int uid, int gid) throws IOException {
        Held h = byVm.get(id);
        if (h != null && (h.uid() != uid || h.gid() != gid)) {
            release(id);
            h = null;
        }
        if (h == null) {
            h = new Held(Terminal.openConsole(uid, gid), uid, gid);
            byVm.put(id, h);
        }
        return new Attach(h.tty().master().dup(), h.tty().path());
    }

    /** VM {@code id} is stopped: its console closes (a later start opens a new one). */
    synchronized void release(int id) {
        Held h = byVm.remove(id);
        if (h != null) {
            h.tty().close();
        }
    }

    /** How many consoles are open. */
    synchronized int size() {
        return byVm.size();
    }

    @Override
    public synchronized void close() {
        byVm.values().forEach(h -> h.tty().close());
        byVm.clear();
    }
}
