package org.jvmd.vmd.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Instances created by non-root users (vmctl start -t): only what {@code allow instance} permits. */
class VmInstancesTest {
    static final int JOE = 1000;
    static final int ANN = 1001;
    static final int BOB = 1002;

    @TempDir
    Path tmp;
    Fixture fx;
    Config config;

    @BeforeEach
    void setUp() {
        fx = new Fixture(tmp);
        config = fx.ok("switch sw { interface br0 }\n"
                + fx.vm("closed", "owner joe", "interface tap20")
                + fx.vm("open", "owner joe:vmusers", "memory 1G", "interface { switch sw }",
                        "allow instance { memory, instance, owner :vmusers }")
                + fx.vm("free", "allow instance { boot, memory, vcpus, interface, owner ann }"));
    }

    private VmInstances.Outcome create(String parent, InstanceRequest r, int uid) {
        Map<String, SwitchSpec> switches = Map.of("sw", config.switchNamed("sw").orElseThrow());
        return VmInstances.create(config.vm(parent).orElseThrow(), r, new Caller(uid, Fixture.ACCOUNTS), switches,
                new LladdrAllocator(fx.sequential(), List.of()));
    }

    private VmSpec created(VmInstances.Outcome o) {
        return assertInstanceOf(VmInstances.Created.class, o).vm();
    }

    private void refused(VmInstances.Outcome o, String message) {
        assertEquals(message, assertInstanceOf(VmInstances.Refused.class, o).message());
    }

    @Test
    void rootMayCreateAnyInstanceAndSetAnything() {
        VmSpec vm = created(create("closed", InstanceRequest.named("c1").withMemory(2L << 30).withVcpus(4), 0));
        assertEquals(2L << 30, vm.memoryBytes());
        assertEquals(4, vm.vcpus());
        assertEquals(Optional.of("closed"), vm.parent());
    }

    @Test
    void userWithoutInstancePermissionIsRefusedEvenAsTheVmsOwner() {
        refused(create("closed", InstanceRequest.named("c1"), JOE), "vm \"c1\" no permission to create vm instance");
    }

    @Test
    void memberOfTheInstanceGroupMayCreateAPlainInstance() {
        VmSpec vm = created(create("open", InstanceRequest.named("o1"), ANN));
        assertEquals(1L << 30, vm.memoryBytes());
        assertEquals(config.vm("open").orElseThrow().owner(), vm.owner());
    }

    @Test
    void nonMemberIsRefused() {
        refused(create("open", InstanceRequest.named("o1"), JOE), "vm \"o1\" no permission to create vm instance");
    }

    @Test
    void permittedOptionMayBeSet() {
        assertEquals(2L << 30, created(create("open", InstanceRequest.named("o1").withMemory(2L << 30), BOB))
                .memoryBytes());
    }

    @Test
    void optionsNotPermittedAreRefused() {
        refused(create("open", InstanceRequest.named("o1").withVcpus(2), ANN), "vm \"o1\" no permission to set vcpus");
        refused(create("open", InstanceRequest.named("o1").withKernel(fx.kernel), ANN),
                "vm \"o1\" no permission to set boot image");
        refused(create("open", InstanceRequest.named("o1").withCmdline("quiet"), ANN),
                "vm \"o1\" no permission to set boot image");
        refused(create("open", InstanceRequest.named("o1").withInterfaces(List.of(InterfaceRequest.defaults())), ANN),
                "vm \"o1\" no permission to set interfaces");
        refused(create("open", InstanceRequest.named("o1").withInterfaceCount(2), ANN),
                "vm \"o1\" no permission to set interfaces");
    }

    @Test
    void settingAnOptionToTheParentsValueNeedsNoPermission() {
        created(create("open", InstanceRequest.named("o1").withVcpus(1).withInterfaceCount(1), ANN));
    }

    @Test
    void everythingPermittedMayBeSet() {
        Path other = fx.write("other", "k");
        VmSpec vm = created(create("free", InstanceRequest.named("f1").withKernel(other).withCmdline("quiet")
                .withVcpus(2).withMemory(2L << 30).withInterfaces(List.of(InterfaceRequest.onSwitch("sw"))), ANN));
        assertEquals(other, vm.kernel());
        assertEquals("quiet", vm.cmdline());
        assertEquals(Optional.of("sw"), vm.interfaces().getFirst().switchName());
    }

    @Test
    void bootFilesARequestNamesTakeNoDescriptorOfTheParents() {
        // the caller's descriptor is added by the registry (Registry.create); one a request
        // does not name stays the parent's (vm.conf's: none, vmd opens it)
        Path other = fx.write("other", "k");
        VmSpec vm = created(create("free", InstanceRequest.named("f2").withKernel(other), ANN));
        assertEquals(Optional.empty(), vm.kernelFd());
        assertEquals(Optional.empty(), vm.initrdFd());
        assertEquals(other, vm.kernel());
    }

    @Test
    void instanceOwnerMustBeTheCallerOrTheParentsOwner() {
        refused(create("open", InstanceRequest.named("o1").withOwner(new Owner(BOB, -1)), ANN),
                "vm \"o1\" user mismatch");
        assertEquals(new Owner(ANN, 2000),
                created(create("open", InstanceRequest.named("o1").withOwner(new Owner(ANN, -1)), ANN)).owner());
        assertEquals(new Owner(JOE, 2000),
                created(create("open", InstanceRequest.named("o1").withOwner(new Owner(JOE, -1)), ANN)).owner());
    }

    @Test
    void instanceGroupMustBeTheParentsGroup() {
        refused(create("open", InstanceRequest.named("o1").withOwner(new Owner(0, 10)), ANN), "vm \"o1\" group mismatch");
    }

    @Test
    void instancePermissionsPassOnOnlyWhenInstancesOfInstancesAreAllowed() {
        VmSpec fromOpen = created(create("open", InstanceRequest.named("o1"), ANN));
        assertEquals(config.vm("open").orElseThrow().allowInstance(), fromOpen.allowInstance());
        VmSpec fromFree = created(create("free", InstanceRequest.named("f1"), ANN));
        assertEquals(InstancePolicy.NONE, fromFree.allowInstance());
    }

    @Test
    void instanceMayNotSetItsOwnPolicy() {
        refused(create("closed", InstanceRequest.named("c1").withInstancePolicy(), 0),
                "vm \"c1\" cannot change instance permissions");
    }

    @Test
    void invalidInstanceNameIsRefused() {
        refused(create("open", InstanceRequest.named("bad name"), ANN), "invalid VM name: bad name");
    }

    @Test
    void inheritedInterfacesGetFreshAddressesAndNoTapName() {
        VmSpec parent = config.vm("closed").orElseThrow();
        VmSpec vm = created(create("closed", InstanceRequest.named("c1"), 0));
        assertEquals(Optional.of("tap20"), parent.interfaces().getFirst().tapName());
        assertEquals(Optional.empty(), vm.interfaces().getFirst().tapName());
        assertFalse(parent.interfaces().getFirst().lladdr().equals(vm.interfaces().getFirst().lladdr()));
    }

    @Test
    void reusingTheParentsTapNameOrAddressIsRefused() {
        InterfaceSpec p = config.vm("closed").orElseThrow().interfaces().getFirst();
        InterfaceRequest sameTap = new InterfaceRequest(p.tapName(), false, Optional.empty(), Optional.empty(), false,
                true, Optional.empty(), Offload.ON, java.util.OptionalInt.empty());
        refused(create("closed", InstanceRequest.named("c1").withInterfaces(List.of(sameTap)), 0),
                "vm \"c1\" interface tap20 cannot be reused");
        InterfaceRequest sameMac = new InterfaceRequest(Optional.empty(), false, Optional.empty(),
                Optional.of(p.lladdr()), false, true, Optional.empty(), Offload.ON, java.util.OptionalInt.empty());
        refused(create("closed", InstanceRequest.named("c1").withInterfaces(List.of(sameMac)), 0),
                "vm \"c1\" lladdr cannot be reused");
    }

    @Test
    void callerPermitsTheOwnerItsGroupAndRoot() {
        Owner owner = new Owner(JOE, 2000);
        assertEquals(true, new Caller(0, Accounts.NONE).permits(owner));
        assertEquals(true, new Caller(JOE, Fixture.ACCOUNTS).permits(owner));
        assertEquals(true, new Caller(BOB, Fixture.ACCOUNTS).permits(owner));
        assertEquals(false, new Caller(4242, Fixture.ACCOUNTS).permits(owner));
        assertEquals(false, new Caller(BOB, Fixture.ACCOUNTS).permits(new Owner(JOE, Owner.NO_GROUP)));
    }

    private VmInstances.Outcome withDisks(Config c, String parent, List<DiskSpec> disks, int uid) {
        return VmInstances.create(c.vm(parent).orElseThrow(), InstanceRequest.named("i1").withDisks(disks),
                new Caller(uid, Fixture.ACCOUNTS), Map.of(), new LladdrAllocator(fx.sequential(), List.of()));
    }

    @Test
    void onlyAllowInstanceDiskLetsAUserSetDisks() {
        Config c = fx.ok(fx.vm("closed", "owner joe", "allow instance { memory, owner joe }")
                + fx.vm("open", "owner joe", "allow instance { disk, owner joe }"));
        List<DiskSpec> mine = List.of(new DiskSpec(Path.of("/home/joe/i1.img"), DiskSpec.Format.AUTO, List.of()));
        assertEquals("vm \"i1\" no permission to set disks",
                assertInstanceOf(VmInstances.Refused.class, withDisks(c, "closed", mine, JOE)).message());
        VmSpec vm = assertInstanceOf(VmInstances.Created.class, withDisks(c, "open", mine, JOE)).vm();
        assertEquals(mine, vm.disks());
        assertTrue(c.vm("open").orElseThrow().allowInstance().allows(InstanceFlag.DISK));
        assertInstanceOf(VmInstances.Created.class, withDisks(c, "closed", mine, 0), "root may set anything");
    }
}
