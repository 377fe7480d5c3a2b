package org.jvmd.vmd.config;

import java.util.Objects;
import java.util.Optional;

/**
 * A virtual switch: a Linux bridge that the taps of VM interfaces on this switch join.
 *
 * @param name the switch's name in vm.conf
 * @param ifname the bridge interface
 * @param group the interface group given to each member interface, if any
 * @param lockedLladdr {@code locked lladdr}: every interface on the switch is locked
 * @param up bring the bridge up ({@code up}, the default) or not ({@code down})
 * @param enabled configure the switch ({@code enable}, the default); vmd skips a disabled one
 * @param source where it was declared
 */
public record SwitchSpec(
        String name,
        String ifname,
        Optional<String> group,
        boolean lockedLladdr,
        boolean up,
        boolean enabled,
        Source source) {
    public SwitchSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(ifname, "ifname");
        Objects.requireNonNull(group, "group");
        Objects.requireNonNull(source, "source");
    }
}
