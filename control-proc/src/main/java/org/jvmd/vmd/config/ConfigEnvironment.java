package org.jvmd.vmd.config;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * What the parser takes from its surroundings, so tests can fix it: account lookups, the
 * address generator, the CPU count (staggered start's default parallelism) and the macros
 * given with {@code -D}, which take precedence over definitions in the file.
 *
 * @param accounts user and group lookups for {@code owner} statements
 * @param lladdrs makes the addresses of interfaces without {@code lladdr}
 * @param cpus the number of CPUs
 * @param defines command-line macros, in the order given
 * @param groups the names of Linux interface groups for {@code group} statements
 */
public record ConfigEnvironment(Accounts accounts, LladdrGenerator lladdrs, int cpus, Map<String, String> defines,
        InterfaceGroups groups) {
    public ConfigEnvironment {
        Objects.requireNonNull(accounts, "accounts");
        Objects.requireNonNull(lladdrs, "lladdrs");
        Objects.requireNonNull(groups, "groups");
        if (cpus < 1) {
            throw new IllegalArgumentException("cpus " + cpus);
        }
        defines = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(defines));
    }

    /** These accounts, addresses, CPUs and macros, with the running system's interface group names. */
    public ConfigEnvironment(Accounts accounts, LladdrGenerator lladdrs, int cpus, Map<String, String> defines) {
        this(accounts, lladdrs, cpus, defines, InterfaceGroups.system());
    }

    /**
     * The running system: /etc/passwd and /etc/group, a SecureRandom, every CPU, no macros,
     * iproute2's group names.
     */
    public static ConfigEnvironment system() {
        return new ConfigEnvironment(EtcAccounts.system(), LladdrGenerator.secure(),
                Runtime.getRuntime().availableProcessors(), Map.of());
    }

    /** This environment with command-line macros ({@code -D name=value}). */
    public ConfigEnvironment withDefines(Map<String, String> macros) {
        return new ConfigEnvironment(accounts, lladdrs, cpus, macros, groups);
    }

    /** This environment with these interface group names. */
    public ConfigEnvironment withGroups(InterfaceGroups names) {
        return new ConfigEnvironment(accounts, lladdrs, cpus, defines, names);
    }

    /**
     * Parses one {@code -D} argument at its last '=' as vmd does.
     *
     * @throws IllegalArgumentException "could not parse macro definition ..." without '='
     */
    public static Map.Entry<String, String> parseDefine(String definition) {
        return Macros.parseDefinition(definition);
    }
}
