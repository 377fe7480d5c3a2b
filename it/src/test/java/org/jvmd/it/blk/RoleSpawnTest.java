package org.jvmd.it.blk;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import org.jvmd.it.sim.GuestSim;
import org.jvmd.it.sim.SimOptions;
import org.jvmd.sys.proc.Role;
import org.jvmd.sys.proc.Spawner;
import org.jvmd.vioblk.VioblkMain;
import org.jvmd.vmm.blk.VioblkProxy;
import org.jvmd.vmm.net.VionetProxy;
import org.junit.jupiter.api.Test;

/** The simulators, the benchmarks and a VM start each device process with the same command line. */
class RoleSpawnTest {
    private static final Path LOG = Path.of("/tmp/jvmd-role-test.log");

    @Test
    void blockSimulatorStartsVioblkExactlyAsVmmProcDoes() {
        List<String> sim = VioblkSpawn.spawner("vm/t/vioblk0", LOG, "a.jar:b.jar").command();
        assertEquals(VioblkProxy.spawner("vm/t/vioblk0", LOG, "a.jar:b.jar").command(), sim);
        assertRoleCommand(Role.VIOBLK, sim);
        assertEquals(VioblkMain.MAIN_CLASS, Role.VIOBLK.mainClass());
        assertEquals(VioblkMain.MAIN_CLASS, VioblkSpawn.MAIN_CLASS);
    }

    @Test
    void guestSimulatorStartsVionetExactlyAsVmmProcDoes() {
        SimOptions o = new SimOptions().title("vm/t/vionet0").vionetLog(LOG).vionetClasspath("a.jar:b.jar");
        List<String> sim = GuestSim.vionetSpawner(o).command();
        assertEquals(VionetProxy.spawner("vm/t/vionet0", LOG, "a.jar:b.jar").command(), sim);
        assertRoleCommand(Role.VIONET, sim);
    }

    /** java, then Spawner's defaults and the role's options in that order (or the AOT form), -cp, the main class. */
    private static void assertRoleCommand(Role role, List<String> cmd) {
        Spawner plain = Spawner.role(role, "x").classpath("a.jar:b.jar").aotCacheDir(null);
        List<String> expected = new java.util.ArrayList<>();
        expected.add(cmd.get(0));
        expected.addAll(role.allJvmOptions());
        expected.addAll(List.of("-cp", "a.jar:b.jar", role.mainClass()));
        assertEquals(expected, plain.command());
        assertEquals(role.mainClass(), cmd.get(cmd.indexOf("-cp") + 2));
    }
}
