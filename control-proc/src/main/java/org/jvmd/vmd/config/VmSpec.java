package org.jvmd.vmd.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.jvmd.sys.Fd;

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
 * @param kernelFd the kernel as the caller who named it passed it (vmctl start -b: vmctl
 *     opened it with its own rights, vmd checked the descriptor, vmd's vm_checkaccess); vmd
 *     never opens a caller's path. Empty for vm.conf's kernel, which vmd opens itself
 * @param initrdFd the same for the initrd
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
        Optional<Fd> kernelFd,
        Optional<Fd> initrdFd) {

    /** A VM whose boot files vm.conf names (vmd opens them). */
    public VmSpec(String name, Optional<String> parent, long memoryBytes, int vcpus, Path kernel, Optional<Path> initrd,
                  String cmdline, List<InterfaceSpec> interfaces, List<DiskSpec> disks, Owner owner, boolean enabled,
                  InstancePolicy allowInstance, Optional<Source> source) {
        this(name, parent, memoryBytes, vcpus, kernel, initrd, cmdline, interfaces, disks, owner, enabled,
                allowInstance, source, Optional.empty(), Optional.empty());
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
        Objects.requireNonNull(kernelFd, "kernelFd");
        Objects.requireNonNull(initrdFd, "initrdFd");
        interfaces = List.copyOf(interfaces);
        disks = List.copyOf(disks);
    }

    /** This VM as declared at another place. */
    public VmSpec withSource(Source where) {
        return new VmSpec(name, parent, memoryBytes, vcpus, kernel, initrd, cmdline, interfaces, disks, owner,
                enabled, allowInstance, Optional.of(where), kernelFd, initrdFd);
    }

    /** This VM with other disks. */
    public VmSpec withDisks(List<DiskSpec> list) {
        return new VmSpec(name, parent, memoryBytes, vcpus, kernel, initrd, cmdline, interfaces, list, owner,
                enabled, allowInstance, source, kernelFd, initrdFd);
    }

    /** This VM booting files a caller passed (each empty one: as before). */
    public VmSpec withBootFds(Optional<Fd> kernelFd, Optional<Fd> initrdFd) {
        return new VmSpec(name, parent, memoryBytes, vcpus, kernel, initrd, cmdline, interfaces, disks, owner,
                enabled, allowInstance, source, kernelFd.or(() -> this.kernelFd), initrdFd.or(() -> this.initrdFd));
    }

    /** Every descriptor a caller passed that this VM holds (boot files, then each disk's layers). */
    public List<Fd> passedFds() {
        List<Fd> out = new java.util.ArrayList<>();
        kernelFd.ifPresent(out::add);
        initrdFd.ifPresent(out::add);
        disks.forEach(d -> out.addAll(d.passed()));
        return out;
    }

    /**
     * This VM with its own duplicates of every passed descriptor (a registry keeps a VM's
     * files for its life, reboots included, as vmd keeps vm_kernel and the disks).
     */
    public VmSpec dupPassed() throws org.jvmd.sys.SysException {
        List<Fd> done = new java.util.ArrayList<>();
        try {
            Optional<Fd> k = dup(kernelFd, done);
            Optional<Fd> i = dup(initrdFd, done);
            List<DiskSpec> ds = new java.util.ArrayList<>();
            for (DiskSpec d : disks) {
                List<Fd> layers = new java.util.ArrayList<>();
                for (Fd fd : d.passed()) {
                    Fd c = fd.dup();
                    done.add(c);
                    layers.add(c);
                }
                ds.add(new DiskSpec(d.path(), d.format(), layers));
            }
            return new VmSpec(name, parent, memoryBytes, vcpus, kernel, initrd, cmdline, interfaces, ds, owner,
                    enabled, allowInstance, source, k, i);
        } catch (org.jvmd.sys.SysException | RuntimeException e) {
            Fd.closeAll(done);
            throw e;
        }
    }

    private static Optional<Fd> dup(Optional<Fd> fd, List<Fd> done) throws org.jvmd.sys.SysException {
        if (fd.isEmpty()) {
            return fd;
        }
        Fd c = fd.get().dup();
        done.add(c);
        return Optional.of(c);
    }
}
