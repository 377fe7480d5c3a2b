package org.jvmd.vmctl;

import org.jvmd.proto.ConsoleRequest;
import org.jvmd.proto.Request;
import org.jvmd.proto.Response;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParseResult;

/** {@code vmctl console id} (ctl_console): attaches the terminal to the VM's serial console. */
final class ConsoleCommand extends VmctlCommand {
    ConsoleCommand() {
        super("console", "id", "Connect to the console of the VM (~. ends the session).");
    }

    @Override
    void declare(CommandSpec s) {
        operands(s, "id", String.class, null, "The VM's id or name.");
    }

    @Override
    int run(Vmctl v, ParseResult r) {
        java.util.List<String> pos = operands(r);
        if (pos.size() != 1) {
            v.ctlUsage(this);
        }
        Response resp = v.call(Request.newBuilder().setConsole(ConsoleRequest.newBuilder().setVm(v.vmid(pos.get(0))))
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
