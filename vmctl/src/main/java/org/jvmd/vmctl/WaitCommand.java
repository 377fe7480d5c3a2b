package org.jvmd.vmctl;

import java.util.List;
import org.jvmd.proto.Request;
import org.jvmd.proto.Response;
import org.jvmd.proto.VmSelector;
import org.jvmd.proto.WaitRequest;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParseResult;

/** {@code vmctl wait id} (ctl_waitfor): waits until the VM has stopped. */
final class WaitCommand extends VmctlCommand {
    WaitCommand() {
        super("wait", "id", "Wait until the VM has stopped.");
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
        v.err.print(vm.hasName() ? "waiting for vm " + vm.getName() + ": " : "waiting for vm: ");
        v.err.flush();
        Response resp = v.call(Request.newBuilder().setWait(WaitRequest.newBuilder().setVm(vm)).build());
        return v.terminateComplete(resp, false, true);
    }
}
