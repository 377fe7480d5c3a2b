package org.jvmd.vmctl;

import java.util.List;
import org.jvmd.proto.LogRequest;
import org.jvmd.proto.Request;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParseResult;

/** {@code vmctl log [brief | verbose]} (ctl_log): vmd's log level; any case, any prefix. */
final class LogCommand extends VmctlCommand {
    LogCommand() {
        super("log", "[brief | verbose]", "Configure vmd's logging level: brief (the default) or verbose (debug).");
    }

    @Override
    void declare(CommandSpec s) {
        operands(s, "level", String.class, List.of("brief", "verbose"), "brief or verbose (or a prefix of either).");
    }

    @Override
    int run(Vmctl v, ParseResult r) {
        List<String> pos = operands(r);
        if (pos.size() != 1) {
            v.ctlUsage(this);
        }
        boolean verbose = false;
        if (Vmctl.abbreviates(pos.get(0), "brief")) {
            verbose = false;
        } else if (Vmctl.abbreviates(pos.get(0), "verbose")) {
            verbose = true;
        } else {
            v.ctlUsage(this);
        }
        return v.simple(Request.newBuilder().setLog(LogRequest.newBuilder().setVerbose(verbose)));
    }
}
