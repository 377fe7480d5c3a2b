package org.jvmd.vmctl;

import org.jvmd.proto.ConsoleRequest;
import org.jvmd.proto.Request;
import org.jvmd.proto.Response;
import org.jvmd.proto.VmSelector;

/** {@code vmctl console id} (ctl_console): attaches the terminal to the VM's serial console. */
final class ConsoleCommand extends OneVmCommand {
    ConsoleCommand() {
        super("console", "Connect to the console of the VM (~. ends the session).");
    }

    @Override
    int run(Vmctl v, VmSelector vm) {
        Response resp = v.call(Request.newBuilder().setConsole(ConsoleRequest.newBuilder().setVm(vm))
                .build());
        if (resp.hasError() && resp.getError().getErrno() == 1) {
            v.errx("console: " + Vmctl.strerror(1));
        }
        if (!resp.hasOk() || resp.getOk().getMessage().isEmpty()) {
            v.errx("console not found");
        }
        return new ConsoleClient(v.in, v.out, v.err).run(resp.getOk().getMessage());
    }
}
