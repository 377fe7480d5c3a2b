package org.jvmd.vmctl;

import org.jvmd.proto.Request;
import org.jvmd.proto.Response;
import org.jvmd.proto.VmSelector;

/** {@code vmctl pause id} (ctl_pause). */
final class PauseCommand extends OneVmCommand {
    PauseCommand() {
        super("pause", "Pause the VM: its vCPUs stop until unpause.");
    }

    @Override
    int run(Vmctl v, VmSelector vm) {
        Response resp = v.call(Request.newBuilder().setPause(org.jvmd.proto.PauseRequest.newBuilder().setVm(vm)).build());
        return v.pauseComplete(resp, "pause", "paused");
    }
}
