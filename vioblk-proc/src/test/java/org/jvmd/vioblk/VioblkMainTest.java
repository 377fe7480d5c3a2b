package org.jvmd.vioblk;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class VioblkMainTest {
    @Test
    void theAotTrainingRunGoesThroughTheStartUpAndTheWarmUp() {
        assertEquals(0, VioblkMain.train());
    }
}
