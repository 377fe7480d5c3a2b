package org.jvmd.vmctl;

import org.jvmd.proto.Request;
import org.jvmd.proto.Response;
import org.jvmd.proto.VmSelector;

/** {@code vmctl unpause id} (ctl_unpause). */
final class UnpauseCommand extends OneVmCommand {
    UnpauseCommand() {
        super("unpause", "Resume a paused VM.");
    }

    @Override
    int run(Vmctl v, VmSelector vm) {
        Response resp = v.call(Request.newBuilder().setUnpause(org.jvmd.proto.UnpauseRequest.newBuilder().setVm(vm)).build());
        return v.pauseComplete(resp, "unpause", "unpaused");
    }
}
