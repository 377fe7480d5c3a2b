package org.jvmd.vmd.config;

import java.util.Collections;
import java.util.EnumSet;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

/**
 * One network interface of a VM, resolved: its address is set and the switch's
 * {@code locked lladdr} is folded in.
 *
 * @param tapName the tap's name on the host, or empty for one vmd names itself
 * @param local a {@code local interface}: vmd gives it a subnet, a gateway and DHCP
 * @param switchName the switch whose bridge the tap joins, if any
 * @param lladdr the guest's MAC address
 * @param locked drop frames from the guest whose source address is not lladdr
 * @param up bring the tap up
 * @param group the interface group named in vm.conf, if any
 * @param offloads the virtio-net features offered to the guest
 * @param mtu the tap's MTU and the device's advertised MTU, if set
 */
public record InterfaceSpec(
        Optional<String> tapName,
        boolean local,
        Optional<String> switchName,
        MacAddress lladdr,
        boolean locked,
        boolean up,
        Optional<String> group,
        Set<Offload> offloads,
        OptionalInt mtu) {

    public InterfaceSpec {
        Objects.requireNonNull(tapName, "tapName");
        Objects.requireNonNull(switchName, "switchName");
        Objects.requireNonNull(lladdr, "lladdr");
        Objects.requireNonNull(group, "group");
        Objects.requireNonNull(mtu, "mtu");
        offloads = copy(offloads);
    }

    static Set<Offload> copy(Set<Offload> offloads) {
        EnumSet<Offload> c = EnumSet.noneOf(Offload.class);
        c.addAll(offloads);
        return Collections.unmodifiableSet(c);
    }

    /**
     * The feature bits the device offers: VERSION_1 (virtio 1.2 §6), MAC and STATUS
     * (§5.1.3), MTU when an MTU is set, and the chosen offloads.
     */
    public long virtioFeatures() {
        long f = Offload.Bits.VERSION_1 | Offload.Bits.MAC | Offload.Bits.STATUS | Offload.bits(offloads);
        if (mtu.isPresent()) {
            f |= Offload.Bits.MTU;
        }
        return f;
    }

    /** This interface with another tap name (instances never share their parent's). */
    public InterfaceSpec withTapName(Optional<String> name) {
        return new InterfaceSpec(name, local, switchName, lladdr, locked, up, group, offloads, mtu);
    }

    /** This interface with another address. */
    public InterfaceSpec withLladdr(MacAddress address) {
        return new InterfaceSpec(tapName, local, switchName, address, locked, up, group, offloads, mtu);
    }
}
