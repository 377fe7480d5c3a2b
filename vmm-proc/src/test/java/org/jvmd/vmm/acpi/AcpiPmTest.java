package org.jvmd.vmm.acpi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import org.jvmd.vmm.devices.RecordingInterrupts;
import org.junit.jupiter.api.Test;

class AcpiPmTest {
    final RecordingInterrupts irq = new RecordingInterrupts();
    final AtomicInteger offs = new AtomicInteger();
    long now = 1_000_000L;
    final AcpiPm pm = new AcpiPm(irq, AcpiPm.SCI_IRQ, () -> now, offs::incrementAndGet);

    @Test
    void s5SleepEnablePowersOff() {
        pm.write(AcpiPm.PM1_CNT, 2, AcpiPm.S5_SLP_TYP << 10); // Linux writes SLP_TYP first
        assertEquals(0, offs.get());
        pm.write(AcpiPm.PM1_CNT, 2, AcpiPm.S5_SLP_TYP << 10 | AcpiPm.SLP_EN);
        assertEquals(1, offs.get());
        assertEquals(1, pm.powerOffs());
    }

    @Test
    void otherSleepTypesDoNothing() {
        pm.write(AcpiPm.PM1_CNT, 2, 3 << 10 | AcpiPm.SLP_EN);
        assertEquals(0, offs.get());
        assertEquals(0, pm.read(AcpiPm.PM1_CNT, 2) & AcpiPm.SLP_EN, "SLP_EN is write-only");
    }

    @Test
    void sciEnAlwaysReadsOne() {
        pm.write(AcpiPm.PM1_CNT, 2, 0);
        assertEquals(AcpiPm.SCI_EN, pm.read(AcpiPm.PM1_CNT, 2) & AcpiPm.SCI_EN);
    }

    @Test
    void powerButtonRaisesSciOnlyOnceEnabledAndClearsByWritingOne() {
        assertFalse(pm.pressPowerButton(), "nobody enabled the event yet");
        assertFalse(irq.level(AcpiPm.SCI_IRQ));
        assertEquals(AcpiPm.PWRBTN_STS, pm.read(0, 2) & AcpiPm.PWRBTN_STS);
        pm.write(2, 2, AcpiPm.PWRBTN_STS); // PM1_EN
        assertTrue(irq.level(AcpiPm.SCI_IRQ), "pending status plus enable raises the SCI");
        pm.write(0, 2, AcpiPm.PWRBTN_STS); // clear
        assertFalse(irq.level(AcpiPm.SCI_IRQ));
        assertTrue(pm.pressPowerButton());
        assertTrue(irq.level(AcpiPm.SCI_IRQ));
        pm.write(0, 2, 0); // writing 0 clears nothing
        assertTrue(irq.level(AcpiPm.SCI_IRQ));
    }

    @Test
    void pmTimerCountsAtItsSpecFrequency() {
        long t0 = pm.read(AcpiPm.PM_TMR, 4);
        now += 1_000_000_000L;
        long t1 = pm.read(AcpiPm.PM_TMR, 4);
        assertEquals(AcpiPm.PM_TIMER_HZ, (t1 - t0) & 0xffffffffL);
        pm.write(AcpiPm.PM_TMR, 4, 0);
        assertEquals(t1, pm.read(AcpiPm.PM_TMR, 4), "read-only");
        assertEquals(3_579L, AcpiPm.ticks(1_000_000L));
    }

    @Test
    void byteAccessesReachTheRightHalves() {
        pm.write(3, 1, 0x01); // high byte of PM1_EN: PWRBTN_EN
        assertEquals(AcpiPm.PWRBTN_STS, pm.read(2, 2));
        pm.write(5, 1, (AcpiPm.S5_SLP_TYP << 10 | AcpiPm.SLP_EN) >> 8);
        assertEquals(1, offs.get());
    }

    record Access(boolean write, long offset, int size, long value) {}

    @Provide
    Arbitrary<Access> accesses() {
        return Combinators.combine(Arbitraries.of(true, false), Arbitraries.longs().between(-1, 17),
                Arbitraries.of(1, 2, 4), Arbitraries.longs()).as(Access::new);
    }

    @Property(tries = 300)
    void arbitraryAccessesKeepTheSciLevelConsistent(@ForAll @Size(max = 60) List<@From("accesses") Access> ops) {
        RecordingInterrupts r = new RecordingInterrupts();
        AcpiPm p = new AcpiPm(r, 9, System::nanoTime, () -> {});
        for (Access a : ops) {
            if (a.write) {
                p.write(a.offset, a.size, a.value);
            } else {
                p.read(a.offset, a.size);
            }
            if (a.value % 7 == 0) {
                p.pressPowerButton();
            }
            long sts = p.read(0, 2);
            long en = p.read(2, 2);
            assertEquals((sts & en & AcpiPm.EVENT_BITS) != 0, r.level(9));
            assertEquals(r.level(9), p.sciLevel());
        }
    }
}
