package org.jvmd.vmd;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.jvmd.vmd.config.VmSpec;

/**
 * One VM as vmd's registry keeps it (vmd's struct vmd_vm): its spec, state and process;
 * the running machine itself is vmm-proc's {@code org.jvmd.vmm.Vm}. Guarded by the
 * registry's lock.
 */
final class VmdVm {
    final int id;
    VmSpec spec;
    VmState state = VmState.STOPPED;
    /** Declared in vm.conf (kept across reloads) rather than created by vmctl. */
    boolean configured;
    VmProcess process;
    int pid;
    String tty = "";
    /** Bumped on every launch so that late events of an earlier process are ignored. */
    int generation;
    /** Start times (nanoTime) for the restart rate limit. */
    final Deque<Long> starts = new ArrayDeque<>();
    /** Completed when the VM runs (with its tty) or fails to start. */
    CompletableFuture<VmdVm> startResult;
    /** Completed when the VM terminates. */
    final List<CompletableFuture<VmdVm>> stopWaiters = new ArrayList<>();
    /** A stop was requested: a reboot then does not restart it. */
    boolean stopRequested;

    VmdVm(int id, VmSpec spec, boolean configured) {
        this.id = id;
        this.spec = spec;
        this.configured = configured;
    }

    String name() {
        return spec.name();
    }
}
