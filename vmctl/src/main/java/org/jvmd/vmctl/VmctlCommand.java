package org.jvmd.vmctl;

import java.util.List;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;
import picocli.CommandLine.ParseResult;

/**
 * One vmctl command (vmctl main.c's {@code ctl_start}, {@code ctl_stop}, ...): its name and
 * usage as vmctl prints them, its options and operands as a picocli model, and its action.
 * The model is built with picocli's programmatic API, not from annotations: vmctl starts for
 * every command, and reflection over annotated fields would cost each start (issue 11's budget).
 */
abstract class VmctlCommand {
    private final String name;
    private final String usage;
    private final String description;

    VmctlCommand(String name, String usage, String description) {
        this.name = name;
        this.usage = usage;
        this.description = description;
    }

    /** The command's full name (any unique prefix selects it). */
    final String name() {
        return name;
    }

    /** vmctl's usage text after the name ({@code "[-fw] [id | -a]"}). */
    final String usage() {
        return usage;
    }

    final String description() {
        return description;
    }

    /**
     * jvmd's own commands (stats, help): they never make one of vmctl's prefixes ambiguous
     * ({@code vmctl stat} is status, {@code vmctl h} is help).
     */
    boolean added() {
        return false;
    }

    /** Declares the command's options and operands on its picocli model. */
    abstract void declare(CommandSpec spec);

    /** Runs the parsed command; returns vmctl's exit status (errors end it through {@link Vmctl#errx}). */
    abstract int run(Vmctl v, ParseResult r);

    /** The command's picocli model: what {@link #declare} adds, and {@code --help}. */
    final CommandSpec spec() {
        CommandSpec s = CommandSpec.create().name(name);
        s.usageMessage().description(description).parameterListHeading("%nOperands:%n")
                .optionListHeading("%nOptions:%n");
        s.parser().separator(" ");
        declare(s);
        s.addOption(OptionSpec.builder("--help").usageHelp(true).description("Show this help and exit.").build());
        return s;
    }

    // ---- the declarations commands share ----

    /** A flag: {@code -c}. */
    static void flag(CommandSpec s, char c, String description) {
        s.addOption(OptionSpec.builder("-" + c).arity("0").type(boolean.class).description(description).build());
    }

    /** An option with a value: {@code -b path}; the last one given counts, as with getopt. */
    static void valued(CommandSpec s, char c, String label, Class<?> type, String description) {
        s.addOption(OptionSpec.builder("-" + c).arity("1").type(type).paramLabel(label).description(description)
                .build());
    }

    /** An option that may be given more than once: {@code -d disk -d disk}. */
    static void repeated(CommandSpec s, char c, String label, Class<?> arrayType, String description) {
        s.addOption(OptionSpec.builder("-" + c).arity("1").type(arrayType).paramLabel(label)
                .description(description).build());
    }

    /**
     * The operands, every word that is not an option: the command counts them itself, as
     * vmctl's {@code argc} checks do. {@code candidates} feed shell completion (null: none).
     */
    static void operands(CommandSpec s, String label, Class<?> type, List<String> candidates, String description) {
        PositionalParamSpec.Builder b = PositionalParamSpec.builder().arity("0..*").paramLabel(label)
                .type(java.lang.reflect.Array.newInstance(type, 0).getClass()).description(description);
        if (candidates != null) {
            b.completionCandidates(candidates);
        }
        s.addPositional(b.build());
    }

    /** Every operand, as text. */
    static List<String> operands(ParseResult r) {
        List<String> p = new java.util.ArrayList<>();
        for (PositionalParamSpec s : r.matchedPositionals()) {
            Object[] v = s.getValue();
            if (v != null) {
                for (Object x : v) {
                    p.add(x.toString());
                }
            }
        }
        return p;
    }

    /** An option's value as text, or null when absent. */
    static String value(ParseResult r, char c) {
        Object v = r.matchedOptionValue("-" + c, null);
        return v == null ? null : v.toString();
    }

    /** A repeated option's values as text. */
    static List<String> values(ParseResult r, char c) {
        Object[] v = r.matchedOptionValue("-" + c, new Object[0]);
        List<String> out = new java.util.ArrayList<>(v.length);
        for (Object x : v) {
            out.add(x.toString());
        }
        return out;
    }
}
