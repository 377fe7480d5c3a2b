package org.jvmd.vmctl;

import java.util.List;
import org.jvmd.proto.Request;
import org.jvmd.proto.Response;
import org.jvmd.proto.StatusRequest;
import org.jvmd.proto.StopRequest;
import org.jvmd.proto.VmSelector;
import org.jvmd.proto.VmStatus;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParseResult;

/** {@code vmctl stop [-fw] [id | -a]} (ctl_stop). */
final class StopCommand extends VmctlCommand {
    StopCommand() {
        super("stop", "[-fw] [id | -a]", "Stop the VM (or every running VM, -a): the guest is asked to power off.");
    }

    @Override
    void declare(CommandSpec s) {
        flag(s, 'a', "Stop every running VM.");
        flag(s, 'f', "Force: kill the VM at once.");
        flag(s, 'w', "Wait until the VM has stopped.");
        operands(s, "id", String.class, null, "The VM's id or name.");
    }

    @Override
    int run(Vmctl v, ParseResult r) {
        List<String> pos = operands(r);
        boolean all = r.hasMatchedOption("-a");
        if ((all && !pos.isEmpty()) || (!all && pos.size() != 1)) {
            v.ctlUsage(this);
        }
        boolean force = r.hasMatchedOption("-f");
        boolean wait = r.hasMatchedOption("-w");
        if (!all) {
            return stopOne(v, v.vmid(pos.get(0)), force, wait);
        }
        Response st = v.call(Request.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build());
        int ret = 0;
        for (VmStatus s : st.getStatus().getVmsList()) {
            if (s.getPid() == 0 || s.getId() == 0) {
                continue;
            }
            ret |= stopOne(v, VmSelector.newBuilder().setName(s.getName()).build(), force, wait);
        }
        return ret;
    }

    private static int stopOne(Vmctl v, VmSelector vm, boolean force, boolean wait) {
        v.err.print(vm.hasName() ? "stopping vm " + vm.getName() + ": " : "stopping vm: ");
        v.err.flush();
        Response resp = v.call(Request.newBuilder()
                .setStop(StopRequest.newBuilder().setVm(vm).setForce(force).setWait(wait)).build());
        return v.terminateComplete(resp, force, wait);
    }
}
