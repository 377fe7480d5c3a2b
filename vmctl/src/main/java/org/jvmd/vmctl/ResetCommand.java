package org.jvmd.vmctl;

import java.util.List;
import java.util.Locale;
import org.jvmd.proto.Request;
import org.jvmd.proto.ResetRequest;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParseResult;

/** {@code vmctl reset [all | switches | vms]} (ctl_reset): vmd forgets VMs, switches or both; any case. */
final class ResetCommand extends VmctlCommand {
    ResetCommand() {
        super("reset", "[all | switches | vms]",
                "Reset the running state: stop and remove all VMs (vms), remove all switches (switches), or both (all, the default).");
    }

    @Override
    void declare(CommandSpec s) {
        operands(s, "what", String.class, List.of("all", "switches", "vms"), "all, switches or vms.");
    }

    @Override
    int run(Vmctl v, ParseResult r) {
        List<String> pos = operands(r);
        ResetRequest.What what = ResetRequest.What.ALL;
        if (pos.size() > 1) {
            v.ctlUsage(this);
        }
        if (pos.size() == 1) {
            what = switch (pos.get(0).toLowerCase(Locale.ROOT)) {
                case "all" -> ResetRequest.What.ALL;
                case "vms" -> ResetRequest.What.VMS;
                case "switches" -> ResetRequest.What.SWITCHES;
                default -> {
                    v.ctlUsage(this);
                    yield null;
                }
            };
        }
        return v.simple(Request.newBuilder().setReset(ResetRequest.newBuilder().setWhat(what)));
    }
}
