package org.jvmd.vmctl;

import java.util.ArrayList;
import java.util.List;
import org.jvmd.proto.Request;
import org.jvmd.proto.Response;
import org.jvmd.proto.StatusRequest;
import org.jvmd.proto.VmSelector;
import org.jvmd.proto.VmStatus;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParseResult;

/** {@code vmctl status [-r] [id]} and its alias {@code show} (ctl_status). */
final class StatusCommand extends VmctlCommand {
    StatusCommand(String name) {
        super(name, "[-r] [id]", "List VMs (all, or only id), with their state, memory and owner.");
    }

    @Override
    void declare(CommandSpec s) {
        flag(s, 'r', "List running VMs only.");
        operands(s, "id", String.class, null, "The VM's id or name.");
    }

    @Override
    int run(Vmctl v, ParseResult r) {
        List<String> pos = operands(r);
        if (pos.size() > 1) {
            v.ctlUsage(this);
        }
        boolean runningOnly = r.hasMatchedOption("-r");
        Response resp = v.call(Request.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build());
        if (!resp.hasStatus()) {
            v.errx("unexpected response received from vmd");
        }
        List<VmStatus> shown = new ArrayList<>();
        int counted = 0;
        VmSelector only = pos.isEmpty() ? null : v.vmid(pos.get(0));
        for (VmStatus s : resp.getStatus().getVmsList()) {
            boolean running = s.getPid() != 0 && s.getId() != 0;
            if (!running && runningOnly) {
                continue;
            }
            counted++;
            if (only == null || (only.hasId() && only.getId() == s.getId())
                    || (only.hasName() && only.getName().equals(s.getName()))) {
                shown.add(s);
            }
        }
        v.out.print(StatusTable.format(shown, false));
        return counted > 0 ? 0 : 1;
    }
}
