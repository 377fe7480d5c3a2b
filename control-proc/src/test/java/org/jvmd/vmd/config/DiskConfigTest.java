package org.jvmd.vmd.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
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

/** {@code disk "path" [format raw|qcow2]} in vm.conf, and disks on instances ({@code allow instance { disk }}). */
class DiskConfigTest {
    @TempDir
    Path tmp;
    Fixture fx;

    @BeforeEach
    void setUp() {
        fx = new Fixture(tmp);
    }

    private static DiskSpec disk(Path p, DiskSpec.Format f) {
        return DiskSpec.of(p, f);
    }

    @Test
    void disksKeepTheirOrderAndFormat() {
        VmSpec vm = fx.ok(fx.vm("web", "disk \"/var/vm/root.img\"", "disk \"/var/vm/data.qcow2\" format qcow2",
                "disk \"/var/vm/swap.img\" format \"raw\"")).vm("web").orElseThrow();
        assertEquals(List.of(disk(Path.of("/var/vm/root.img"), DiskSpec.Format.AUTO),
                disk(Path.of("/var/vm/data.qcow2"), DiskSpec.Format.QCOW2),
                disk(Path.of("/var/vm/swap.img"), DiskSpec.Format.RAW)), vm.disks());
    }

    @Test
    void aVmWithoutDisksHasNone() {
        assertEquals(List.of(), fx.ok(fx.vm("web")).vm("web").orElseThrow().disks());
    }

    @Test
    void relativeDiskPathsAreTakenFromTheConfigurationsDirectoryAndNeedNotExistYet() {
        VmSpec vm = fx.ok(fx.vm("web", "disk \"images/../images/web.img\"")).vm("web").orElseThrow();
        assertEquals(List.of(disk(tmp.toAbsolutePath().resolve("images/web.img"), DiskSpec.Format.AUTO)), vm.disks());
    }

    @Test
    void macrosAndAdjacentStringsMakeTheDiskPath() {
        VmSpec vm = fx.ok("dir=\"/var/vm\"\n" + fx.vm("web", "disk $dir \"/web.img\" format raw")).vm("web").orElseThrow();
        assertEquals(List.of(disk(Path.of("/var/vm/web.img"), DiskSpec.Format.RAW)), vm.disks());
    }

    @Test
    void fourDisksAreTheLimit() {
        VmSpec vm = fx.ok(fx.vm("web", "disk a", "disk b", "disk c", "disk d")).vm("web").orElseThrow();
        assertEquals(4, vm.disks().size());
    }

    @Test
    void statusShowsTheFormatOnlyWhenConfigured() {
        assertEquals("/a.img", disk(Path.of("/a.img"), DiskSpec.Format.AUTO).toString());
        assertEquals("qcow2:/a.img", disk(Path.of("/a.img"), DiskSpec.Format.QCOW2).toString());
    }

    @Test
    void anInstanceInheritsItsParentsDisksOrReplacesThemAll() {
        Config c = fx.ok(fx.vm("base", "disk \"/var/vm/base.img\"", "disk \"/var/vm/data.img\"")
                + "vm base instance same {\n}\n"
                + "vm base instance own {\n disk \"/var/vm/own.img\" format raw\n}\n");
        assertEquals(c.vm("base").orElseThrow().disks(), c.vm("same").orElseThrow().disks());
        assertEquals(List.of(disk(Path.of("/var/vm/own.img"), DiskSpec.Format.RAW)), c.vm("own").orElseThrow().disks());
    }

    private VmInstances.Outcome instance(Config c, String parent, List<DiskSpec> disks, int uid) {
        return VmInstances.create(c.vm(parent).orElseThrow(), InstanceRequest.named("i1").withDisks(disks),
                new Caller(uid, Fixture.ACCOUNTS), Map.of(), new LladdrAllocator(fx.sequential(), List.of()));
    }

    @Test
    void onlyAllowInstanceDiskLetsAUserSetDisks() {
        Config c = fx.ok(fx.vm("closed", "owner joe", "allow instance { memory, owner joe }")
                + fx.vm("open", "owner joe", "allow instance { disk, owner joe }"));
        List<DiskSpec> mine = List.of(new DiskSpec(Path.of("/home/joe/i1.img"), DiskSpec.Format.AUTO,
                OptionalInt.of(VmInstancesTest.JOE)));
        assertEquals("vm \"i1\" no permission to set disks",
                assertInstanceOf(VmInstances.Refused.class, instance(c, "closed", mine, VmInstancesTest.JOE)).message());
        VmSpec vm = assertInstanceOf(VmInstances.Created.class, instance(c, "open", mine, VmInstancesTest.JOE)).vm();
        assertEquals(mine, vm.disks());
        assertTrue(c.vm("open").orElseThrow().allowInstance().allows(InstanceFlag.DISK));
        assertInstanceOf(VmInstances.Created.class, instance(c, "closed", mine, 0), "root may set anything");
    }

    @Test
    void formatNamesAreVmds() {
        assertEquals(Optional.of(DiskSpec.Format.RAW), DiskSpec.Format.named("raw"));
        assertEquals(Optional.of(DiskSpec.Format.QCOW2), DiskSpec.Format.named("qcow2"));
        assertEquals(Optional.empty(), DiskSpec.Format.named(""));
        assertEquals(Optional.empty(), DiskSpec.Format.named("auto"));
    }
}
