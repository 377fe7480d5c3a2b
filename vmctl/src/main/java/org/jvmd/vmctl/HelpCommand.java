package org.jvmd.vmctl;

import java.util.List;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParseResult;

/**
 * {@code vmctl help [command]} (jvmd's own): vmctl's usage, or one command's usage line, what
 * it does and its options, on stdout with status 0.
 */
final class HelpCommand extends VmctlCommand {
    HelpCommand() {
        super("help", "[command]", "Show the usage of every command, or of one command with its options.");
    }

    @Override
    boolean added() {
        return true;
    }

    @Override
    void declare(CommandSpec s) {
        operands(s, "command", String.class, Vmctl.COMMANDS.stream().map(VmctlCommand::name).toList(), "A command (or a unique prefix).");
    }

    @Override
    int run(Vmctl v, ParseResult r) {
        List<String> pos = operands(r);
        if (pos.size() > 1) {
            v.ctlUsage(this);
        }
        v.out.print(pos.isEmpty() ? Vmctl.usageText() : Vmctl.help(v.lookup(pos.get(0))));
        return 0;
    }
}
