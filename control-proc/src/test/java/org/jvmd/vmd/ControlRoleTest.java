package org.jvmd.vmd;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.reflect.Modifier;
import org.junit.jupiter.api.Test;
import org.jvmd.sys.proc.Role;

/** The control process's row of the process-role table names its main class, on vmd's class path. */
class ControlRoleTest {
    @Test
    void theControlRoleRunsControlMain() throws Exception {
        assertEquals(ControlMain.class.getName(), Role.CONTROL.mainClass());
        var main = ControlMain.class.getMethod("main", String[].class);
        assertEquals(Modifier.PUBLIC | Modifier.STATIC, main.getModifiers() & (Modifier.PUBLIC | Modifier.STATIC));
        assertEquals("control", Role.CONTROL.seccompProfile());
    }
}
