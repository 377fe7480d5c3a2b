package org.jvmd.vmd.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;

/**
 * What an instance of a VM sets for itself: a {@code vm parent instance name} block, or vmctl
 * start -t. Everything left empty is inherited from the parent.
 *
 * @param name the instance's name
 * @param memoryBytes memory, as given (checked by the caller)
 * @param vcpus vCPUs
 * @param kernel boot image
 * @param initrd initial ramdisk
 * @param cmdline kernel command line
 * @param interfaces interfaces configured for the instance (replacing the parent's first ones)
 * @param interfaceCount {@code interfaces N}
 * @param owner the instance's owner
 * @param enabled start it with vmd
 * @param setsInstancePolicy the instance has its own {@code allow instance} (refused, as vmd does)
 * @param disks the instance's own disks (replacing all of the parent's), if it sets any
 */
public record InstanceRequest(
        String name,
        OptionalLong memoryBytes,
        OptionalInt vcpus,
        Optional<Path> kernel,
        Optional<Path> initrd,
        Optional<String> cmdline,
        List<InterfaceRequest> interfaces,
        OptionalInt interfaceCount,
        Optional<Owner> owner,
        boolean enabled,
        boolean setsInstancePolicy,
        Optional<List<DiskSpec>> disks) {

    public InstanceRequest {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(memoryBytes, "memoryBytes");
        Objects.requireNonNull(vcpus, "vcpus");
        Objects.requireNonNull(kernel, "kernel");
        Objects.requireNonNull(initrd, "initrd");
        Objects.requireNonNull(cmdline, "cmdline");
        Objects.requireNonNull(interfaceCount, "interfaceCount");
        Objects.requireNonNull(owner, "owner");
        interfaces = List.copyOf(interfaces);
        disks = disks.map(List::copyOf);
    }

    /** An instance that inherits everything. */
    public static InstanceRequest named(String name) {
        return new InstanceRequest(name, OptionalLong.empty(), OptionalInt.empty(), Optional.empty(),
                Optional.empty(), Optional.empty(), List.of(), OptionalInt.empty(), Optional.empty(), true, false,
                Optional.empty());
    }

    public InstanceRequest withMemory(long bytes) {
        return new InstanceRequest(name, OptionalLong.of(bytes), vcpus, kernel, initrd, cmdline, interfaces,
                interfaceCount, owner, enabled, setsInstancePolicy, disks);
    }

    public InstanceRequest withVcpus(int count) {
        return new InstanceRequest(name, memoryBytes, OptionalInt.of(count), kernel, initrd, cmdline, interfaces,
                interfaceCount, owner, enabled, setsInstancePolicy, disks);
    }

    public InstanceRequest withKernel(Path path) {
        return new InstanceRequest(name, memoryBytes, vcpus, Optional.of(path), initrd, cmdline, interfaces,
                interfaceCount, owner, enabled, setsInstancePolicy, disks);
    }

    public InstanceRequest withInitrd(Path path) {
        return new InstanceRequest(name, memoryBytes, vcpus, kernel, Optional.of(path), cmdline, interfaces,
                interfaceCount, owner, enabled, setsInstancePolicy, disks);
    }

    public InstanceRequest withCmdline(String line) {
        return new InstanceRequest(name, memoryBytes, vcpus, kernel, initrd, Optional.of(line), interfaces,
                interfaceCount, owner, enabled, setsInstancePolicy, disks);
    }

    public InstanceRequest withInterfaces(List<InterfaceRequest> list) {
        return new InstanceRequest(name, memoryBytes, vcpus, kernel, initrd, cmdline, list, interfaceCount, owner,
                enabled, setsInstancePolicy, disks);
    }

    public InstanceRequest withInterfaceCount(int count) {
        return new InstanceRequest(name, memoryBytes, vcpus, kernel, initrd, cmdline, interfaces,
                OptionalInt.of(count), owner, enabled, setsInstancePolicy, disks);
    }

    public InstanceRequest withOwner(Owner o) {
        return new InstanceRequest(name, memoryBytes, vcpus, kernel, initrd, cmdline, interfaces, interfaceCount,
                Optional.of(o), enabled, setsInstancePolicy, disks);
    }

    public InstanceRequest withEnabled(boolean on) {
        return new InstanceRequest(name, memoryBytes, vcpus, kernel, initrd, cmdline, interfaces, interfaceCount,
                owner, on, setsInstancePolicy, disks);
    }

    public InstanceRequest withInstancePolicy() {
        return new InstanceRequest(name, memoryBytes, vcpus, kernel, initrd, cmdline, interfaces, interfaceCount,
                owner, enabled, true, disks);
    }

    public InstanceRequest withDisks(List<DiskSpec> list) {
        return new InstanceRequest(name, memoryBytes, vcpus, kernel, initrd, cmdline, interfaces, interfaceCount,
                owner, enabled, setsInstancePolicy, Optional.of(list));
    }
}
