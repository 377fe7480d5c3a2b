package org.jvmd.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.reflect.Modifier;
import org.jvmd.sys.proc.Role;
import org.jvmd.vmm.blk.VioblkProxy;
import org.jvmd.vmm.net.VionetProxy;
import org.junit.jupiter.api.Test;

/**
 * Every row of the process-role table a VM's processes run names a main class on vmm-proc's
 * class path (the control process's, vmd's own child, is checked in control-proc).
 */
class RoleRowsTest {
    @Test
    void everyRolesMainClassExistsWithAPublicStaticMain() throws Exception {
        assertEquals(VmmMain.class.getName(), Role.VMM.mainClass());
        assertEquals(VionetProxy.MAIN_CLASS, Role.VIONET.mainClass());
        assertEquals(VioblkProxy.MAIN_CLASS, Role.VIOBLK.mainClass());
        for (Role r : java.util.EnumSet.complementOf(java.util.EnumSet.of(Role.CONTROL))) {
            var main = Class.forName(r.mainClass(), false, getClass().getClassLoader()).getMethod("main", String[].class);
            assertEquals(Modifier.PUBLIC | Modifier.STATIC, main.getModifiers() & (Modifier.PUBLIC | Modifier.STATIC), r.name());
        }
    }
}
