package org.jvmd.vmd.config;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A parsed and checked vm.conf: globals, switches and VMs in the order they were declared,
 * with defaults applied and addresses assigned.
 */
public record Config(Globals globals, List<SwitchSpec> switches, List<VmSpec> vms) {
    public Config {
        Objects.requireNonNull(globals, "globals");
        switches = List.copyOf(switches);
        vms = List.copyOf(vms);
    }

    public Optional<VmSpec> vm(String name) {
        return vms.stream().filter(v -> v.name().equals(name)).findFirst();
    }

    public Optional<SwitchSpec> switchNamed(String name) {
        return switches.stream().filter(s -> s.name().equals(name)).findFirst();
    }
}
