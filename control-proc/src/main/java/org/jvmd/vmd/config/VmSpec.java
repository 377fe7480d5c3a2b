package org.jvmd.vmd.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * A configured VM with vmd's defaults applied.
 *
 * @param name the VM's name
 * @param parent for an instance, the VM it was created from
 * @param memoryBytes guest RAM, a whole number of megabytes (default 512M)
 * @param vcpus virtual CPUs (default 1)
 * @param kernel the bzImage booted directly (real path)
 * @param initrd the initial ramdisk, if any (real path)
 * @param cmdline the kernel command line (default empty)
 * @param interfaces the network interfaces, in guest order
 * @param disks the disks, in guest order (the first is /dev/vda)
 * @param owner who may start, stop, pause and open the console of the VM besides root
 * @param enabled start it with vmd ({@code enable}, the default) or not ({@code disable})
 * @param allowInstance who may create instances of it and what they may set
 * @param source where it was declared; empty for a VM that did not come from vm.conf
 * @param kernelNamedBy the uid of the non-root caller who named the kernel (an instance's
 *     {@code vmctl start -t ... -b}): its rights on the file are checked when the VM starts
 *     (vmd's vm_checkaccess); empty for a kernel from vm.conf or root
 * @param initrdNamedBy the same for the initrd
 */
public record VmSpec(
        String name,
        Optional<String> parent,
        long memoryBytes,
        int vcpus,
        Path kernel,
        Optional<Path> initrd,
        String cmdline,
        List<InterfaceSpec> interfaces,
        List<DiskSpec> disks,
        Owner owner,
        boolean enabled,
        InstancePolicy allowInstance,
        Optional<Source> source,
        OptionalInt kernelNamedBy,
        OptionalInt initrdNamedBy) {

    /** A VM whose boot files were named by vm.conf or root. */
    public VmSpec(String name, Optional<String> parent, long memoryBytes, int vcpus, Path kernel, Optional<Path> initrd,
                  String cmdline, List<InterfaceSpec> interfaces, List<DiskSpec> disks, Owner owner, boolean enabled,
                  InstancePolicy allowInstance, Optional<Source> source) {
        this(name, parent, memoryBytes, vcpus, kernel, initrd, cmdline, interfaces, disks, owner, enabled,
                allowInstance, source, OptionalInt.empty(), OptionalInt.empty());
    }

    public VmSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(parent, "parent");
        Objects.requireNonNull(kernel, "kernel");
        Objects.requireNonNull(initrd, "initrd");
        Objects.requireNonNull(cmdline, "cmdline");
        Objects.requireNonNull(owner, "owner");
        Objects.requireNonNull(allowInstance, "allowInstance");
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(kernelNamedBy, "kernelNamedBy");
        Objects.requireNonNull(initrdNamedBy, "initrdNamedBy");
        interfaces = List.copyOf(interfaces);
        disks = List.copyOf(disks);
    }

    /** This VM as declared at another place. */
    public VmSpec withSource(Source where) {
        return new VmSpec(name, parent, memoryBytes, vcpus, kernel, initrd, cmdline, interfaces, disks, owner,
                enabled, allowInstance, Optional.of(where), kernelNamedBy, initrdNamedBy);
    }

    /** This VM with other disks. */
    public VmSpec withDisks(List<DiskSpec> list) {
        return new VmSpec(name, parent, memoryBytes, vcpus, kernel, initrd, cmdline, interfaces, list, owner,
                enabled, allowInstance, source, kernelNamedBy, initrdNamedBy);
    }
}
