package org.jvmd.testkit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class GuestCodeTest {
    @Test
    void labelsAreOffsetsOfTheBytesBeforeThem() {
        GuestCode c = GuestCode.of("start:", "ba f8 03", "b068", "loop:", "ee", "eb fd", "end:");
        assertArrayEquals(new byte[] {(byte) 0xba, (byte) 0xf8, 3, (byte) 0xb0, 0x68, (byte) 0xee, (byte) 0xeb, (byte) 0xfd},
                c.bytes());
        assertEquals(0, c.label("start"));
        assertEquals(5, c.label("loop"));
        assertEquals(8, c.label("end"));
        assertEquals(8, c.size());
    }

    @Test
    void oddDigitsUnknownAndDoubleLabelsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> GuestCode.hex("b06"));
        assertThrows(IllegalArgumentException.class, () -> GuestCode.of("a:", "90").label("b"));
        assertThrows(IllegalArgumentException.class, () -> GuestCode.of("a:", "90", "a:"));
    }
}
