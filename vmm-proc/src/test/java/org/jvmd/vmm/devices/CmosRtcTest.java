package org.jvmd.vmm.devices;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.From;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

class CmosRtcTest {
    static final class MutableClock implements InstantSource {
        Instant now;

        MutableClock(String iso) {
            now = Instant.parse(iso);
        }

        @Override
        public Instant instant() {
            return now;
        }

        void advanceNanos(long n) {
            now = now.plusNanos(n);
        }
    }

    final MutableClock clock = new MutableClock("2024-02-29T23:59:58Z");
    final RecordingInterrupts irq = new RecordingInterrupts();
    final CmosRtc rtc = new CmosRtc(clock, irq);

    int reg(int r) {
        rtc.write(0, 1, r);
        return (int) rtc.read(1, 1);
    }

    void set(int r, int v) {
        rtc.write(0, 1, r);
        rtc.write(1, 1, v);
    }

    @Test
    void readsUtcTimeInBcdByDefault() {
        assertEquals(0x58, reg(CmosRtc.SECONDS));
        assertEquals(0x59, reg(CmosRtc.MINUTES));
        assertEquals(0x23, reg(CmosRtc.HOURS));
        assertEquals(0x29, reg(CmosRtc.DAY_OF_MONTH));
        assertEquals(0x02, reg(CmosRtc.MONTH));
        assertEquals(0x24, reg(CmosRtc.YEAR));
        assertEquals(0x20, reg(CmosRtc.CENTURY));
        assertEquals(5, reg(CmosRtc.DAY_OF_WEEK), "a Thursday; Sunday is 1");
    }

    @Test
    void binaryModeReadsPlainValues() {
        set(CmosRtc.REG_B, CmosRtc.B_24H | CmosRtc.B_DM_BINARY);
        assertEquals(58, reg(CmosRtc.SECONDS));
        assertEquals(23, reg(CmosRtc.HOURS));
        assertEquals(24, reg(CmosRtc.YEAR));
    }

    @Test
    void twelveHourModeSetsThePmBit() {
        set(CmosRtc.REG_B, 0);
        assertEquals(0x80 | 0x11, reg(CmosRtc.HOURS));
        clock.now = Instant.parse("2024-01-01T00:30:00Z");
        assertEquals(0x12, reg(CmosRtc.HOURS), "half past midnight is 12 AM");
    }

    @Test
    void clockAdvancesWithTheHostClock() {
        clock.advanceNanos(3 * CmosRtc.SECOND);
        assertEquals(0x01, reg(CmosRtc.SECONDS));
        assertEquals(0x00, reg(CmosRtc.HOURS));
        assertEquals(0x01, reg(CmosRtc.DAY_OF_MONTH));
        assertEquals(0x03, reg(CmosRtc.MONTH), "leap day rolls into March");
    }

    @Test
    void updateInProgressOnlyInTheLast244MicrosOfASecond() {
        assertEquals(0, reg(CmosRtc.REG_A) & CmosRtc.A_UIP);
        clock.advanceNanos(CmosRtc.SECOND - CmosRtc.UIP_WINDOW);
        assertEquals(CmosRtc.A_UIP, reg(CmosRtc.REG_A) & CmosRtc.A_UIP);
        clock.advanceNanos(CmosRtc.UIP_WINDOW);
        assertEquals(0, reg(CmosRtc.REG_A) & CmosRtc.A_UIP);
        assertEquals(0x59, reg(CmosRtc.SECONDS));
    }

    @Test
    void setBitFreezesTheClockAndAppliesTheNewTimeOnRelease() {
        set(CmosRtc.REG_B, CmosRtc.B_24H | CmosRtc.B_SET);
        set(CmosRtc.HOURS, 0x07);
        set(CmosRtc.MINUTES, 0x15);
        set(CmosRtc.SECONDS, 0x00);
        set(CmosRtc.YEAR, 0x28); // another leap year: 29 February stays valid
        clock.advanceNanos(5 * CmosRtc.SECOND);
        assertEquals(0x00, reg(CmosRtc.SECONDS), "frozen while SET");
        assertEquals(0, reg(CmosRtc.REG_A) & CmosRtc.A_UIP);
        set(CmosRtc.REG_B, CmosRtc.B_24H);
        clock.advanceNanos(3 * CmosRtc.SECOND);
        assertEquals(0x03, reg(CmosRtc.SECONDS));
        assertEquals(0x15, reg(CmosRtc.MINUTES));
        assertEquals(0x07, reg(CmosRtc.HOURS));
        assertEquals(0x28, reg(CmosRtc.YEAR));
        assertEquals(0x29, reg(CmosRtc.DAY_OF_MONTH));
    }

    @Test
    void fieldsWrittenUnderSetAreValidatedOnlyTogether() {
        // Linux writes seconds..year in order; day 31 is invalid for the frozen February.
        set(CmosRtc.REG_B, CmosRtc.B_24H | CmosRtc.B_SET);
        set(CmosRtc.DAY_OF_MONTH, 0x31);
        set(CmosRtc.MONTH, 0x03);
        set(CmosRtc.YEAR, 0x25);
        assertEquals(0x31, reg(CmosRtc.DAY_OF_MONTH));
        set(CmosRtc.REG_B, CmosRtc.B_24H);
        assertEquals(0x31, reg(CmosRtc.DAY_OF_MONTH));
        assertEquals(0x03, reg(CmosRtc.MONTH));
        assertEquals(0x25, reg(CmosRtc.YEAR));
    }

    @Test
    void impossibleDateUnderSetKeepsTheOldTime() {
        set(CmosRtc.REG_B, CmosRtc.B_24H | CmosRtc.B_SET);
        set(CmosRtc.MONTH, 0x04);
        set(CmosRtc.DAY_OF_MONTH, 0x31);
        set(CmosRtc.REG_B, CmosRtc.B_24H);
        assertEquals(0x02, reg(CmosRtc.MONTH));
        assertEquals(0x29, reg(CmosRtc.DAY_OF_MONTH));
    }

    @Test
    void writingATimeFieldWhileRunningShiftsTheClock() {
        set(CmosRtc.MINUTES, 0x10);
        assertEquals(0x10, reg(CmosRtc.MINUTES));
        clock.advanceNanos(2 * CmosRtc.SECOND);
        assertEquals(0x00, reg(CmosRtc.SECONDS));
        assertEquals(0x11, reg(CmosRtc.MINUTES));
    }

    @Test
    void calendarInvalidWriteIsDropped() {
        set(CmosRtc.MINUTES, 0x75);
        assertEquals(0x59, reg(CmosRtc.MINUTES));
        set(CmosRtc.DAY_OF_MONTH, 0x31); // 31 February
        assertEquals(0x29, reg(CmosRtc.DAY_OF_MONTH));
    }

    @Test
    void registerDReportsValidRamAndTime() {
        assertEquals(CmosRtc.D_VRT, reg(CmosRtc.REG_D));
    }

    @Test
    void nvramKeepsBytesAndIndexBit7IsIgnored() {
        set(0x40, 0xab);
        assertEquals(0xab, reg(0x40));
        assertEquals(0xab, reg(0x80 | 0x40), "NMI-disable bit does not change the index");
        assertEquals(0xff, rtc.read(0, 1), "index port reads as open bus");
    }

    @Test
    void updateEndedFlagRisesAfterASecondBoundaryAndClearsOnRead() {
        reg(CmosRtc.REG_C);
        clock.advanceNanos(CmosRtc.SECOND / 2);
        assertEquals(0, reg(CmosRtc.REG_C) & CmosRtc.C_UF);
        clock.advanceNanos(CmosRtc.SECOND);
        int c = reg(CmosRtc.REG_C);
        assertEquals(CmosRtc.C_UF, c & CmosRtc.C_UF);
        assertEquals(0, c & CmosRtc.C_IRQF, "flags rise without their enables, IRQF does not");
        assertEquals(0, reg(CmosRtc.REG_C));
    }

    @Test
    void periodicInterruptRaisesIrq8UntilRegisterCIsRead() {
        reg(CmosRtc.REG_C);
        set(CmosRtc.REG_B, CmosRtc.B_24H | CmosRtc.B_PIE);
        long period = CmosRtc.periodNanos(6);
        assertEquals(976_562L, period, "rate 6 is 1024 Hz");
        long wait = rtc.nanosUntilNextEvent();
        assertTrue(wait > 0 && wait <= period);
        clock.advanceNanos(wait);
        rtc.poll();
        assertTrue(irq.level(CmosRtc.IRQ));
        int c = reg(CmosRtc.REG_C);
        assertEquals(CmosRtc.C_IRQF | CmosRtc.C_PF, c & (CmosRtc.C_IRQF | CmosRtc.C_PF));
        assertFalse(irq.level(CmosRtc.IRQ));
    }

    @Test
    void alarmFlagSetWhenTheAlarmTimeIsCrossed() {
        set(CmosRtc.SECONDS_ALARM, 0x05);
        set(CmosRtc.MINUTES_ALARM, 0xc0); // don't care
        set(CmosRtc.HOURS_ALARM, 0x00);
        set(CmosRtc.REG_B, CmosRtc.B_24H | CmosRtc.B_AIE);
        reg(CmosRtc.REG_C);
        clock.advanceNanos(5 * CmosRtc.SECOND); // 00:00:03
        rtc.poll();
        assertFalse(irq.level(CmosRtc.IRQ));
        clock.advanceNanos(2 * CmosRtc.SECOND); // 00:00:05
        rtc.poll();
        assertTrue(irq.level(CmosRtc.IRQ));
        assertEquals(CmosRtc.C_AF, reg(CmosRtc.REG_C) & CmosRtc.C_AF);
    }

    @Test
    void aFrozenFieldWrittenInBinaryAndReadInBcdIsStillOneByte() {
        // Found by the property below: 255 written in binary under SET read back in BCD as 0x255.
        set(CmosRtc.REG_B, CmosRtc.B_24H | CmosRtc.B_DM_BINARY | CmosRtc.B_SET);
        set(CmosRtc.SECONDS, 0xff);
        set(CmosRtc.HOURS, 0xff);
        set(CmosRtc.REG_B, CmosRtc.B_24H | CmosRtc.B_SET);
        assertTrue(reg(CmosRtc.SECONDS) <= 0xff);
        assertTrue(reg(CmosRtc.HOURS) <= 0xff);
        set(CmosRtc.REG_B, CmosRtc.B_SET);
        assertTrue(reg(CmosRtc.HOURS) <= 0xff);
    }

    @Test
    void noEventScheduledWithoutEnabledInterrupts() {
        assertEquals(-1, rtc.nanosUntilNextEvent());
    }

    @Test
    void memorySizeBytesFollowTheFirmwareLayout() {
        rtc.setMemorySize(3L << 30, 1L << 30);
        assertEquals(640, reg(0x15) | reg(0x16) << 8);
        assertEquals(0xffff, reg(0x17) | reg(0x18) << 8, "extended memory saturates at 64 MiB");
        assertEquals(((3L << 30) - (16 << 20)) >> 16, reg(0x34) | reg(0x35) << 8);
        assertEquals((1L << 30) >> 16, reg(0x5b) | reg(0x5c) << 8 | reg(0x5d) << 16);
    }

    record Op(int kind, int index, int value, long advance) {}

    @Provide
    Arbitrary<Op> ops() {
        return Combinators.combine(
                        Arbitraries.integers().between(0, 3),
                        Arbitraries.integers().between(0, 255),
                        Arbitraries.integers().between(0, 255),
                        Arbitraries.longs().between(0, 3 * CmosRtc.SECOND))
                .as(Op::new);
    }

    @Property(tries = 300)
    void arbitraryAccessesNeverThrowAndTimeStaysOnTheCalendar(@ForAll @Size(max = 60) List<@From("ops") Op> ops) {
        MutableClock c = new MutableClock("2099-12-31T23:59:59Z");
        CmosRtc r = new CmosRtc(c, new RecordingInterrupts());
        for (Op op : ops) {
            switch (op.kind) {
                case 0 -> {
                    r.write(0, 1, op.index);
                    r.write(1, 1, op.value);
                }
                case 1 -> {
                    r.write(0, 1, op.index);
                    long v = r.read(1, 1);
                    assertTrue(v >= 0 && v <= 0xff);
                }
                case 2 -> c.advanceNanos(op.advance);
                default -> {
                    r.poll();
                    r.nanosUntilNextEvent();
                }
            }
        }
        r.write(0, 1, CmosRtc.REG_B);
        r.write(1, 1, CmosRtc.B_24H | CmosRtc.B_DM_BINARY);
        assertTrue(read(r, CmosRtc.SECONDS) < 60);
        assertTrue(read(r, CmosRtc.MINUTES) < 60);
        assertTrue(read(r, CmosRtc.HOURS) < 24);
        int dom = read(r, CmosRtc.DAY_OF_MONTH);
        assertTrue(dom >= 1 && dom <= 31);
        int month = read(r, CmosRtc.MONTH);
        assertTrue(month >= 1 && month <= 12);
    }

    static int read(CmosRtc r, int reg) {
        r.write(0, 1, reg);
        return (int) r.read(1, 1);
    }
}
