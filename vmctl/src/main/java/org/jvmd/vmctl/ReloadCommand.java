package org.jvmd.vmctl;

import org.jvmd.proto.ReloadRequest;
import org.jvmd.proto.Request;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParseResult;

/** {@code vmctl reload} (ctl_reload): vmd reads its configuration file again. */
final class ReloadCommand extends VmctlCommand {
    ReloadCommand() {
        super("reload", "", "Remove stopped VMs and reload the configuration from the configuration file.");
    }

    @Override
    void declare(CommandSpec s) {
        // no operands: any word is counted, and refused with the usage
        s.addPositional(picocli.CommandLine.Model.PositionalParamSpec.builder().arity("0..*").type(String[].class)
                .hidden(true).build());
    }

    @Override
    int run(Vmctl v, ParseResult r) {
        if (!operands(r).isEmpty()) {
            v.ctlUsage(this);
        }
        return v.simple(Request.newBuilder().setReload(ReloadRequest.getDefaultInstance()));
    }
}
