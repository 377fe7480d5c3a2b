package org.jvmd.vmctl;

import java.util.List;
import org.jvmd.proto.Request;
import org.jvmd.proto.Response;
import org.jvmd.proto.VmSelector;
import org.jvmd.proto.VmStatsRequest;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParseResult;

/** {@code vmctl stats id} (jvmd's own): the VM's NIC and disk counters. */
final class StatsCommand extends VmctlCommand {
    StatsCommand() {
        super("stats", "id", "Show the counters of the VM's network interfaces and disks (jvmd's own command).");
    }

    @Override
    boolean added() {
        return true;
    }

    @Override
    void declare(CommandSpec s) {
        operands(s, "id", String.class, null, "The VM's id or name.");
    }

    @Override
    int run(Vmctl v, ParseResult r) {
        List<String> pos = operands(r);
        if (pos.size() != 1) {
            v.ctlUsage(this);
        }
        VmSelector vm = v.vmid(pos.get(0));
        Response resp = v.call(Request.newBuilder().setStats(VmStatsRequest.newBuilder().setVm(vm)).build());
        if (resp.hasError()) {
            v.errx("stats command failed: " + Vmctl.strerror(resp.getError().getErrno()));
        }
        int status = v.printStats(vm, resp.getStats().getNicsList());
        return v.printDiskStats(resp.getStats().getDisksList()) | status;
    }
}
