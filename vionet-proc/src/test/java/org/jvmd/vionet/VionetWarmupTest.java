package org.jvmd.vionet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.jvmd.proto.NicStats;

/** The warm-up before the privilege drop goes down the paths it says it does. */
class VionetWarmupTest {
    @Test
    void theWarmUpTransmitsSegmentsReceivesDirectAndThroughScratchWithoutDrops() {
        NicStats s = VionetWarmup.run();
        assertEquals(2, s.getTxFrames(), "TSO passed through and USO segmented: " + s);
        assertEquals(1, s.getTxTsoFrames());
        assertEquals(1, s.getTxSwSegmented());
        assertEquals(1, s.getRxSwSegmented(), "a TSO frame segmented for a guest without offloads: " + s);
        assertTrue(s.getRxFrames() > 2, "the direct frame and the segments: " + s);
        assertEquals(0, s.getDropsCount(), "nothing dropped: " + s.getDropsMap());
    }
}
