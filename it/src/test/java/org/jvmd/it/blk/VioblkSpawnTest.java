package org.jvmd.it.blk;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.jvmd.vioblk.VioblkMain;
import org.jvmd.vmm.blk.VioblkProxy;
import org.junit.jupiter.api.Test;

/** The simulator, the benchmark and a VM start vioblk-proc the same way. */
class VioblkSpawnTest {
    @Test
    void vmmProcStartsVioblkWithTheOptionsTheProcessDeclares() {
        assertEquals(VioblkMain.JVM_OPTIONS, List.of(VioblkProxy.VIOBLK_JVM_OPTIONS));
        assertEquals(VioblkMain.MAIN_CLASS, VioblkProxy.MAIN_CLASS);
        assertEquals(VioblkMain.MAIN_CLASS, VioblkSpawn.MAIN_CLASS);
    }
}
