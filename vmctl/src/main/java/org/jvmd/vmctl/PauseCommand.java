package org.jvmd.vmctl;

import java.util.List;
import org.jvmd.proto.Request;
import org.jvmd.proto.Response;
import org.jvmd.proto.VmSelector;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParseResult;

/** {@code vmctl pause id} (ctl_pause). */
final class PauseCommand extends VmctlCommand {
    PauseCommand() {
        super("pause", "id", "Pause the VM: its vCPUs stop until unpause.");
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
        Response resp = v.call(Request.newBuilder().setPause(org.jvmd.proto.PauseRequest.newBuilder().setVm(vm)).build());
        return v.pauseComplete(resp, "pause", "paused");
    }
}
