package org.jvmd.vmctl;

import picocli.AutoComplete;

/**
 * Prints vmctl's bash completion script (picocli's {@link AutoComplete}, from the same command
 * model vmctl parses with; zsh runs it through bashcompinit). etc/install writes it to
 * {@code share/bash-completion/completions/vmctl}:
 * {@code java -cp vmctl.jar:lib/* org.jvmd.vmctl.Completion > vmctl}.
 */
public final class Completion {
    private Completion() {
    }

    /** The script's text. */
    static String bash() {
        return AutoComplete.bash("vmctl", Vmctl.commandTree());
    }

    public static void main(String[] args) {
        System.out.print(bash());
        System.out.flush();
    }
}
