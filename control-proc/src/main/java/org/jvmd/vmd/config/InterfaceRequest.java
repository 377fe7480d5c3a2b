package org.jvmd.vmd.config;

import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

/**
 * An interface as configured, before vmd picks its address: what a vm block's
 * {@code interface} statement says, or what vmctl asks for.
 *
 * @param tapName the tap's name, or empty to let vmd name it
 * @param local a local interface
 * @param switchName the switch to join
 * @param lladdr the address, or empty for a generated one
 * @param locked {@code locked lladdr}
 * @param up {@code up} (default) or {@code down}
 * @param group the interface group
 * @param offloads the virtio-net features to offer
 * @param mtu the MTU, if set
 */
public record InterfaceRequest(
        Optional<String> tapName,
        boolean local,
        Optional<String> switchName,
        Optional<MacAddress> lladdr,
        boolean locked,
        boolean up,
        Optional<String> group,
        Set<Offload> offloads,
        OptionalInt mtu) {

    public InterfaceRequest {
        Objects.requireNonNull(tapName, "tapName");
        Objects.requireNonNull(switchName, "switchName");
        Objects.requireNonNull(lladdr, "lladdr");
        Objects.requireNonNull(group, "group");
        Objects.requireNonNull(mtu, "mtu");
        offloads = InterfaceSpec.copy(offloads);
    }

    /** vmd's default interface: up, on no switch, generated address, offloads on. */
    public static InterfaceRequest defaults() {
        return new InterfaceRequest(Optional.empty(), false, Optional.empty(), Optional.empty(), false, true,
                Optional.empty(), Offload.ON, OptionalInt.empty());
    }

    /** A default interface joining a switch (vmctl start -n). */
    public static InterfaceRequest onSwitch(String switchName) {
        return new InterfaceRequest(Optional.empty(), false, Optional.of(switchName), Optional.empty(), false,
                true, Optional.empty(), Offload.ON, OptionalInt.empty());
    }

    /**
     * The interface with its address and with what it inherits from its switch (vmd's
     * VMIFF_OPTMASK: a switch's {@code locked lladdr} locks every interface on it).
     *
     * @param address the address to use when none was configured
     * @param sw the switch it joins, or null if none or unknown
     */
    public InterfaceSpec resolve(MacAddress address, SwitchSpec sw) {
        boolean lock = locked || (sw != null && sw.lockedLladdr());
        return new InterfaceSpec(tapName, local, switchName, lladdr.orElse(address), lock, up, group, offloads, mtu);
    }
}
