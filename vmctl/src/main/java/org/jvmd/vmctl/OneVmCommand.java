package org.jvmd.vmctl;

import java.util.List;
import org.jvmd.proto.VmSelector;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParseResult;

/**
 * A command whose one operand is the VM it acts on, {@code id} (an id or a name, vmctl's
 * parse_vmid): pause, unpause, wait, console, stats. Anything but exactly one operand is the
 * command's usage.
 */
abstract class OneVmCommand extends VmctlCommand {
    OneVmCommand(String name, String description) {
        super(name, "id", description);
    }

    @Override
    final void declare(CommandSpec s) {
        operands(s, "id", String.class, null, "The VM's id or name.");
    }

    @Override
    final int run(Vmctl v, ParseResult r) {
        List<String> pos = operands(r);
        if (pos.size() != 1) {
            v.ctlUsage(this);
        }
        return run(v, v.vmid(pos.get(0)));
    }

    /** Runs the command on {@code vm}; returns vmctl's exit status. */
    abstract int run(Vmctl v, VmSelector vm);
}
