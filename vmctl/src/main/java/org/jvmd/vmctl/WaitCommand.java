package org.jvmd.vmctl;

import org.jvmd.proto.Request;
import org.jvmd.proto.Response;
import org.jvmd.proto.VmSelector;
import org.jvmd.proto.WaitRequest;

/** {@code vmctl wait id} (ctl_waitfor): waits until the VM has stopped. */
final class WaitCommand extends OneVmCommand {
    WaitCommand() {
        super("wait", "Wait until the VM has stopped.");
    }

    @Override
    int run(Vmctl v, VmSelector vm) {
        v.err.print(vm.hasName() ? "waiting for vm " + vm.getName() + ": " : "waiting for vm: ");
        v.err.flush();
        Response resp = v.call(Request.newBuilder().setWait(WaitRequest.newBuilder().setVm(vm)).build());
        return v.terminateComplete(resp, false, true);
    }
}
