package org.jvmd.vmd.config;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Creating an instance of a VM (vmd.c's vm_instance): the instance inherits the parent's
 * settings; what it sets itself must be permitted by the parent's {@code allow instance}
 * unless the caller is root; some things can never be taken from the parent (its addresses,
 * its tap names). Refusals carry vmd's messages.
 */
public final class VmInstances {
    private VmInstances() {
    }

    /** The result of {@link #create}. */
    public sealed interface Outcome permits Created, Refused {
    }

    /** The instance, ready to register. */
    public record Created(VmSpec vm) implements Outcome {
    }

    /** Why the instance was refused. */
    public record Refused(String message) implements Outcome {
    }

    /**
     * Makes an instance of a VM.
     *
     * @param parent the VM used as a template
     * @param request what the instance sets itself
     * @param caller who asks (root for vm.conf)
     * @param switches the switches, by name, for interfaces the instance configures
     * @param lladdrs hands out the instance's generated addresses
     */
    public static Outcome create(VmSpec parent, InstanceRequest request, Caller caller,
            Map<String, SwitchSpec> switches, LladdrAllocator lladdrs) {
        String name = request.name();
        Optional<String> badName = Names.vmNameError(name);
        if (badName.isPresent()) {
            return new Refused(badName.get());
        }
        InstancePolicy policy = parent.allowInstance();
        if (!caller.permits(policy.owner())) {
            return refuse(name, "no permission to create vm instance");
        }
        int vcpus = request.vcpus().orElse(parent.vcpus());
        if (vcpus != parent.vcpus() && !caller.may(policy, InstanceFlag.VCPUS)) {
            return refuse(name, "no permission to set vcpus");
        }
        long memory = request.memoryBytes().orElse(parent.memoryBytes());
        if (memory != parent.memoryBytes() && !caller.may(policy, InstanceFlag.MEMORY)) {
            return refuse(name, "no permission to set memory");
        }
        int count = Math.max(request.interfaces().size(), request.interfaceCount().orElse(0));
        boolean interfacesSet = !request.interfaces().isEmpty()
                || (request.interfaceCount().isPresent() && count != parent.interfaces().size());
        if (interfacesSet && !caller.may(policy, InstanceFlag.INTERFACE)) {
            return refuse(name, "no permission to set interfaces");
        }
        Optional<String> reused = reusedFromParent(parent, request);
        if (reused.isPresent()) {
            return refuse(name, reused.get());
        }
        boolean bootSet = request.kernel().isPresent() || request.initrd().isPresent()
                || request.cmdline().isPresent();
        if (bootSet && !caller.may(policy, InstanceFlag.BOOT)) {
            return refuse(name, "no permission to set boot image");
        }
        if (request.disks().isPresent() && !caller.may(policy, InstanceFlag.DISK)) {
            return refuse(name, "no permission to set disks");
        }
        Owner owner = parent.owner();
        if (request.owner().isPresent()) {
            Owner wanted = request.owner().get();
            if (wanted.uid() != 0 && wanted.uid() != caller.uid() && wanted.uid() != parent.owner().uid()) {
                return refuse(name, "user mismatch");
            }
            if (wanted.hasGroup() && wanted.gid() != parent.owner().gid()) {
                return refuse(name, "group mismatch");
            }
            owner = new Owner(wanted.uid() != 0 ? wanted.uid() : parent.owner().uid(), parent.owner().gid());
        }
        if (request.setsInstancePolicy()) {
            return refuse(name, "cannot change instance permissions");
        }
        InstancePolicy childPolicy = policy.allows(InstanceFlag.INSTANCE) ? policy : InstancePolicy.NONE;
        List<InterfaceSpec> interfaces;
        try {
            interfaces = interfaces(parent, request, count, switches, lladdrs);
        } catch (LladdrAllocator.Exhausted e) {
            return refuse(name, "needs an lladdr: " + e.getMessage());
        }
        VmSpec vm = new VmSpec(name, Optional.of(parent.name()), memory, vcpus,
                request.kernel().orElse(parent.kernel()),
                request.initrd().or(parent::initrd),
                request.cmdline().orElse(parent.cmdline()), interfaces, request.disks().orElse(parent.disks()),
                owner, request.enabled(), childPolicy, Optional.empty(),
                // a file the request names comes with the caller's descriptor (Registry adds it);
                // one it does not name is the parent's, with the parent's descriptor if any
                request.kernel().isPresent() ? Optional.empty() : parent.kernelFd(),
                request.initrd().isPresent() ? Optional.empty() : parent.initrdFd());
        return new Created(vm);
    }

    /** The instance's own interfaces, default ones up to its count, then the parent's rest. */
    private static List<InterfaceSpec> interfaces(VmSpec parent, InstanceRequest request, int count,
            Map<String, SwitchSpec> switches, LladdrAllocator lladdrs) {
        List<InterfaceSpec> out = new ArrayList<>();
        for (InterfaceRequest r : request.interfaces()) {
            int index = out.size();
            SwitchSpec sw = r.switchName().map(switches::get).orElse(null);
            out.add(r.resolve(r.lladdr().isPresent() ? r.lladdr().get() : lladdrs.allocate(index), sw));
        }
        while (out.size() < count) {
            out.add(InterfaceRequest.defaults().resolve(lladdrs.allocate(out.size()), null));
        }
        for (int i = out.size(); i < parent.interfaces().size(); i++) {
            InterfaceSpec inherited = parent.interfaces().get(i);
            out.add(inherited.withTapName(Optional.empty()).withLladdr(lladdrs.allocate(i)));
        }
        return out;
    }

    /** An address or tap name the instance takes from its parent, which vmd refuses. */
    private static Optional<String> reusedFromParent(VmSpec parent, InstanceRequest request) {
        for (InterfaceRequest r : request.interfaces()) {
            for (InterfaceSpec p : parent.interfaces()) {
                if (r.lladdr().isPresent() && r.lladdr().get().equals(p.lladdr())) {
                    return Optional.of("lladdr cannot be reused");
                }
                if (r.tapName().isPresent() && r.tapName().equals(p.tapName())) {
                    return Optional.of("interface " + r.tapName().get() + " cannot be reused");
                }
            }
        }
        return Optional.empty();
    }

    private static Refused refuse(String name, String why) {
        return new Refused("vm \"" + name + "\" " + why);
    }

}
