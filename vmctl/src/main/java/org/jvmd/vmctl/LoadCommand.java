package org.jvmd.vmctl;

import java.nio.file.Path;
import org.jvmd.proto.LoadRequest;
import org.jvmd.proto.Request;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParseResult;

/** {@code vmctl load filename} (ctl_load): vmd adds the file's VMs and switches to its configuration. */
final class LoadCommand extends VmctlCommand {
    LoadCommand() {
        super("load", "filename", "Load additional configuration from the vm.conf(5) file filename.");
    }

    @Override
    void declare(CommandSpec s) {
        operands(s, "filename", Path.class, null, "A vm.conf(5) file, read by vmd.");
    }

    @Override
    int run(Vmctl v, ParseResult r) {
        java.util.List<String> pos = operands(r);
        if (pos.size() != 1) {
            v.ctlUsage(this);
        }
        return v.simple(Request.newBuilder()
                .setLoad(LoadRequest.newBuilder().setFile(Path.of(pos.get(0)).toAbsolutePath().toString())));
    }
}
