package org.jvmd.vmctl;

import org.jvmd.proto.Request;
import org.jvmd.proto.Response;
import org.jvmd.proto.VmSelector;
import org.jvmd.proto.VmStatsRequest;

/** {@code vmctl stats id} (jvmd's own): the VM's NIC and disk counters. */
final class StatsCommand extends OneVmCommand {
    StatsCommand() {
        super("stats", "Show the counters of the VM's network interfaces and disks (jvmd's own command).");
    }

    @Override
    boolean added() {
        return true;
    }

    @Override
    int run(Vmctl v, VmSelector vm) {
        Response resp = v.call(Request.newBuilder().setStats(VmStatsRequest.newBuilder().setVm(vm)).build());
        if (resp.hasError()) {
            v.errx("stats command failed: " + Vmctl.strerror(resp.getError().getErrno()));
        }
        int status = v.printStats(vm, resp.getStats().getNicsList());
        return v.printDiskStats(resp.getStats().getDisksList()) | status;
    }
}
