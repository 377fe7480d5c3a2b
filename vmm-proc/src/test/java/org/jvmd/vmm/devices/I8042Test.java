package org.jvmd.vmm.devices;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.From;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

class I8042Test {
    final RecordingInterrupts irq = new RecordingInterrupts();
    final AtomicInteger resets = new AtomicInteger();
    final I8042 kbc = new I8042(irq, resets::incrementAndGet);

    int status() {
        return (int) kbc.read(4, 1);
    }

    int data() {
        return (int) kbc.read(0, 1);
    }

    void command(int c) {
        kbc.write(4, 1, c);
    }

    void data(int v) {
        kbc.write(0, 1, v);
    }

    /** What Linux's i8042_wait_read + read_data does: poll OBF, then read. */
    int readByte() {
        assertEquals(I8042.STR_OBF, status() & I8042.STR_OBF, "output buffer should be full");
        return data();
    }

    byte[] drain() {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        while ((status() & I8042.STR_OBF) != 0) {
            b.write(data());
        }
        return b.toByteArray();
    }

    @Test
    void controllerCommandByteReadsBackWhatWasWritten() {
        command(I8042.CMD_READ_CTR);
        int ctr = readByte();
        assertEquals(I8042.CTR_KBDINT, ctr & I8042.CTR_KBDINT);
        command(I8042.CMD_WRITE_CTR);
        assertEquals(I8042.STR_CMDDAT, status() & I8042.STR_CMDDAT);
        data(0x30);
        command(I8042.CMD_READ_CTR);
        assertEquals(0x30, readByte());
        assertEquals(0, status() & I8042.STR_OBF);
    }

    @Test
    void statusShowsKeyboardUnlockedAndNeverInputBufferFull() {
        int s = status();
        assertEquals(I8042.STR_KEYLOCK, s & I8042.STR_KEYLOCK, "else Linux warns 'Keylock active'");
        assertEquals(0, s & I8042.STR_IBF);
    }

    @Test
    void selfTestAnswers55() {
        command(I8042.CMD_SELF_TEST);
        assertEquals(0x55, readByte());
        command(I8042.CMD_KBD_TEST);
        assertEquals(0x00, readByte());
    }

    @Test
    void pulseResetCommandCallsResetCallback() {
        command(I8042.CMD_PULSE_RESET);
        assertEquals(1, resets.get());
        assertEquals(1, kbc.resets());
    }

    @Test
    void nullCommandFfDoesNotReset() {
        command(0xff);
        assertEquals(0, resets.get());
    }

    @Test
    void outputPortWriteResetsOnlyWhenBitZeroIsClear() {
        command(I8042.CMD_WRITE_OUTP);
        data(0xdf); // Linux's A20 enable at i8042 init
        assertEquals(0, resets.get());
        command(I8042.CMD_READ_OUTP);
        assertEquals(0xdf, readByte());
        command(I8042.CMD_WRITE_OUTP);
        data(0xde);
        assertEquals(1, resets.get());
    }

    @Test
    void keyboardGetIdAnswersAckAndMf2IdWithAnEdgePerByte() {
        data(I8042.KBD_GET_ID);
        assertTrue(irq.level(I8042.KBD_IRQ));
        assertEquals(0xfa, readByte());
        assertEquals(0xab, readByte());
        assertEquals(0x83, readByte());
        assertFalse(irq.level(I8042.KBD_IRQ));
        assertEquals(3, irq.edges(I8042.KBD_IRQ));
    }

    @Test
    void keyboardIdIsTranslatedWhenControllerTranslates() {
        command(I8042.CMD_WRITE_CTR);
        data(I8042.CTR_KBDINT | I8042.CTR_XLATE);
        data(I8042.KBD_GET_ID);
        assertArrayEquals(new byte[] {(byte) 0xfa, (byte) 0xab, 0x41}, drain());
    }

    @Test
    void keyboardCommandsWithAParameterAreAckedTwice() {
        data(I8042.KBD_SET_LEDS);
        assertEquals(0xfa, readByte());
        data(0x00);
        assertEquals(0xfa, readByte());
        data(I8042.KBD_SCANSET);
        assertEquals(0xfa, readByte());
        data(0x00);
        assertArrayEquals(new byte[] {(byte) 0xfa, 0x02}, drain());
    }

    @Test
    void keyboardResetAnswersAckAndSelfTestPassed() {
        data(I8042.KBD_RESET_BAT);
        assertArrayEquals(new byte[] {(byte) 0xfa, (byte) 0xaa}, drain());
    }

    @Test
    void ctrlAltDelQueuesSet2ScancodesAndRaisesIrq1() {
        assertTrue(kbc.keyboardListening());
        assertTrue(kbc.sendCtrlAltDel());
        assertTrue(irq.level(I8042.KBD_IRQ));
        byte[] got = drain();
        assertArrayEquals(I8042.CTRL_ALT_DEL_SET2, got);
        assertEquals(got.length, irq.edges(I8042.KBD_IRQ), "one interrupt per scancode byte");
    }

    @Test
    void ctrlAltDelUsesSet1WhenTranslating() {
        command(I8042.CMD_WRITE_CTR);
        data(I8042.CTR_KBDINT | I8042.CTR_XLATE);
        assertTrue(kbc.sendCtrlAltDel());
        assertArrayEquals(I8042.CTRL_ALT_DEL_SET1, drain());
    }

    @Test
    void ctrlAltDelRefusedWhenNoDriverListens() {
        data(I8042.KBD_RESET_DIS);
        drain();
        assertFalse(kbc.sendCtrlAltDel(), "scanning disabled");
        data(I8042.KBD_ENABLE);
        drain();
        command(I8042.CMD_WRITE_CTR);
        data(0x00); // keyboard interrupt off
        assertFalse(kbc.sendCtrlAltDel());
        assertEquals(0, status() & I8042.STR_OBF);
    }

    @Test
    void keyboardBytesAreHeldWhileTheKeyboardPortIsDisabled() {
        command(I8042.CMD_KBD_DISABLE);
        data(I8042.KBD_ECHO);
        assertEquals(0, status() & I8042.STR_OBF);
        command(I8042.CMD_KBD_ENABLE);
        assertEquals(0xee, readByte());
    }

    @Test
    void controllerResponseKeepsADisplacedKeyboardByte() {
        data(I8042.KBD_ECHO);
        command(I8042.CMD_READ_CTR);
        int ctr = readByte();
        assertEquals(I8042.CTR_KBDINT, ctr & I8042.CTR_KBDINT);
        assertEquals(0xee, readByte());
    }

    @Test
    void auxLoopEchoesAsAuxDataOnIrq12() {
        command(I8042.CMD_WRITE_CTR);
        data(I8042.CTR_KBDINT | I8042.CTR_AUXINT);
        command(I8042.CMD_WRITE_AUX_OUTBUF);
        data(0x5a);
        assertEquals(I8042.STR_AUXDATA, status() & I8042.STR_AUXDATA);
        assertTrue(irq.level(I8042.AUX_IRQ));
        assertFalse(irq.level(I8042.KBD_IRQ));
        assertEquals(0x5a, readByte());
        assertFalse(irq.level(I8042.AUX_IRQ));
    }

    @Test
    void writeToTheEmptyMouseSocketAnswersNak() {
        command(I8042.CMD_AUX_ENABLE);
        command(I8042.CMD_WRITE_AUX);
        data(0xf2);
        assertEquals(I8042.STR_AUXDATA, status() & I8042.STR_AUXDATA);
        assertEquals(0xfe, readByte());
    }

    @Test
    void separatePortViewsReachTheSameController() {
        kbc.commandPort().write(0, 1, I8042.CMD_SELF_TEST);
        assertEquals(I8042.STR_OBF, kbc.commandPort().read(0, 1) & I8042.STR_OBF);
        assertEquals(0x55, kbc.dataPort().read(0, 1));
    }

    record Access(boolean write, long offset, int value) {}

    @Provide
    Arbitrary<Access> accesses() {
        return Combinators.combine(
                        Arbitraries.of(true, false),
                        Arbitraries.of(0L, 4L, 0L, 4L, 1L, 2L, 5L),
                        Arbitraries.integers().between(0, 255))
                .as(Access::new);
    }

    @Property(tries = 300)
    void arbitraryPortAccessesNeverThrowAndKeepLinesConsistent(
            @ForAll @Size(max = 80) List<@From("accesses") Access> ops) {
        RecordingInterrupts irq = new RecordingInterrupts();
        I8042 kbc = new I8042(irq, () -> {});
        for (Access a : ops) {
            if (a.write) {
                kbc.write(a.offset, 1, a.value);
            } else {
                long v = kbc.read(a.offset, 1);
                assertTrue(v >= 0 && v <= 0xff);
            }
            if (a.value == 0x42) {
                kbc.sendCtrlAltDel();
            }
            long s = kbc.read(4, 1);
            assertEquals(0, s & I8042.STR_IBF);
            boolean obf = (s & I8042.STR_OBF) != 0;
            if (!obf) {
                assertFalse(irq.level(I8042.KBD_IRQ));
                assertFalse(irq.level(I8042.AUX_IRQ));
            }
            assertFalse(irq.level(I8042.KBD_IRQ) && irq.level(I8042.AUX_IRQ), "one output buffer, one source");
        }
    }
}
