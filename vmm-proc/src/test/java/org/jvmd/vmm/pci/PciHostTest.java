package org.jvmd.vmm.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
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
import org.jvmd.vmm.bus.Bus;
import org.jvmd.vmm.bus.BusDevice;
import org.junit.jupiter.api.Test;

class PciHostTest {
    static final long MMIO = 0xc000_0000L;
    static final long MMIO_SIZE = 0x1000_0000L;

    /** A register file that remembers the last write, standing in for a device's BAR. */
    static final class Regs implements BusDevice {
        long lastOffset = -1;

        @Override
        public long read(long offset, int size) {
            return 0x1234;
        }

        @Override
        public void write(long offset, int size, long value) {
            lastOffset = offset;
        }
    }

    final AtomicInteger resets = new AtomicInteger();
    final PciHost host = new PciHost(MMIO, MMIO_SIZE, resets::incrementAndGet);
    final Regs regs = new Regs();

    PciDevice device() {
        PciDevice d = new PciDevice(0x1af4, 0x1044, 0xff0000, 1, 0x1af4, 0x44);
        d.addMemoryBar(0, 0x4000, true, false, regs);
        return d;
    }

    static int cfgAddress(int dev, int reg) {
        return 0x80000000 | dev << 11 | reg;
    }

    long cfgRead(int dev, int reg, int size) {
        host.write(0, 4, cfgAddress(dev, reg & 0xfc));
        return host.read(4 + (reg & 3), size);
    }

    void cfgWrite(int dev, int reg, int size, long v) {
        host.write(0, 4, cfgAddress(dev, reg & 0xfc));
        host.write(4 + (reg & 3), size, v);
    }

    @Test
    void hostBridgeAnswersAt00_00_0() {
        long id = cfgRead(0, 0, 4);
        assertEquals(PciHost.HOST_VENDOR, id & 0xffff);
        assertEquals(PciHost.HOST_DEVICE, id >>> 16);
        assertEquals(0x060000, cfgRead(0, 0x08, 4) >>> 8, "class: host bridge");
        assertEquals(0, cfgRead(0, PciDevice.HEADER_TYPE, 1), "type 0, single function");
    }

    @Test
    void linuxType1ProbeSeesTheAddressRegisterReadBack() {
        host.write(3, 1, 0x01); // outb(0x01, 0xCFB)
        host.write(0, 4, 0x80000000L);
        assertEquals(0x80000000L, host.read(0, 4));
    }

    @Test
    void absentDevicesFunctionsAndBusesReadAllOnes() {
        assertEquals(0xffffffffL, cfgRead(5, 0, 4));
        host.write(0, 4, 0x80000100L); // 00:00.1
        assertEquals(0xffffffffL, host.read(4, 4));
        host.write(0, 4, 0x80010000L); // bus 1
        assertEquals(0xffffffffL, host.read(4, 4));
        host.write(0, 4, 0x00000000L); // enable bit clear
        assertEquals(0xffffL, host.read(4, 2));
    }

    @Test
    void dataWindowTakesAnyWidthAtAnyByte() {
        int slot = host.attach(device());
        assertEquals(1, slot);
        assertEquals(0x1044, cfgRead(slot, 2, 2));
        assertEquals(0x10, cfgRead(slot, 3, 1));
        assertEquals(0x1af4, cfgRead(slot, 0, 2));
        host.write(0, 4, cfgAddress(slot, 0));
        assertEquals(0xffffff10L, host.read(7, 4), "a dword at 0xCFF reads one byte, the rest floats");
    }

    @Test
    void barSizingReturnsSizeMask() {
        int slot = host.attach(device());
        long orig = cfgRead(slot, 0x10, 4);
        cfgWrite(slot, 0x10, 4, 0xffffffffL);
        cfgWrite(slot, 0x14, 4, 0xffffffffL);
        assertEquals(0xffffc004L, cfgRead(slot, 0x10, 4), "size 16 KiB, 64-bit memory BAR");
        assertEquals(0xffffffffL, cfgRead(slot, 0x14, 4));
        cfgWrite(slot, 0x10, 4, orig);
        cfgWrite(slot, 0x14, 4, 0);
        assertEquals(orig, cfgRead(slot, 0x10, 4));
    }

    @Test
    void unimplementedBarsAndRomReadZeroEvenAfterAllOnes() {
        int slot = host.attach(device());
        for (int reg : new int[] {0x18, 0x1c, 0x20, 0x24, 0x30}) {
            cfgWrite(slot, reg, 4, 0xffffffffL);
            assertEquals(0, cfgRead(slot, reg, 4), "register " + reg);
        }
    }

    @Test
    void attachAssignsAlignedBarsInsideTheWindow() {
        PciDevice a = device();
        PciDevice b = new PciDevice(0x1af4, 0x1041, 0x020000, 1, 0x1af4, 0x41);
        b.addMemoryBar(0, 0x1000, false, false, regs);
        b.addMemoryBar(2, 0x10000, true, true, regs);
        host.attach(a);
        host.attach(b);
        for (PciDevice d : List.of(a, b)) {
            for (int i = 0; i < 6; i++) {
                if (d.hasBar(i)) {
                    long at = d.barAddress(i);
                    assertEquals(0, at % d.barSize(i));
                    assertTrue(at >= MMIO && at + d.barSize(i) <= MMIO + MMIO_SIZE);
                }
            }
        }
        assertTrue(b.barAddress(0) >= a.barAddress(0) + a.barSize(0), "no overlap");
        assertEquals(PciDevice.BAR_MEM_64 | PciDevice.BAR_MEM_PREFETCH, b.readConfig(0x18, 4) & 0xf);
    }

    @Test
    void readOnlyRegistersIgnoreWrites() {
        int slot = host.attach(device());
        cfgWrite(slot, 0, 4, 0);
        cfgWrite(slot, 0x08, 4, 0);
        cfgWrite(slot, 0x2c, 4, 0);
        assertEquals(0x10441af4L, cfgRead(slot, 0, 4));
        assertEquals(0xff000001L, cfgRead(slot, 0x08, 4));
        assertEquals(0x00441af4L, cfgRead(slot, 0x2c, 4));
        cfgWrite(slot, PciDevice.INTERRUPT_LINE, 1, 11);
        assertEquals(11, cfgRead(slot, PciDevice.INTERRUPT_LINE, 1));
    }

    @Test
    void statusErrorBitsAreWriteOneToClear() {
        PciDevice d = device();
        d.put16(PciDevice.STATUS, 0x8000 | PciDevice.STATUS_CAP_LIST);
        d.writeConfig(PciDevice.STATUS, 2, 0x0010); // writing the RO cap bit and 0 to the error bit
        assertEquals(0x8010, d.readConfig(PciDevice.STATUS, 2));
        d.writeConfig(PciDevice.STATUS, 2, 0x8000);
        assertEquals(0x0010, d.readConfig(PciDevice.STATUS, 2));
    }

    @Test
    void capabilityListIsLinkedFromThePointer() {
        PciDevice d = device();
        int first = d.addCapability(0x09, 16);
        int second = d.addCapability(0x11, 12);
        assertEquals(PciDevice.STATUS_CAP_LIST, d.readConfig(PciDevice.STATUS, 2) & PciDevice.STATUS_CAP_LIST);
        assertEquals(first, d.readConfig(PciDevice.CAPABILITY_POINTER, 1));
        assertEquals(0x09, d.readConfig(first, 1));
        assertEquals(second, d.readConfig(first + 1, 1));
        assertEquals(0x11, d.readConfig(second, 1));
        assertEquals(0, d.readConfig(second + 1, 1));
        assertEquals(0, second % 4);
    }

    record Move(int bar, long oldBase, long newBase) {}

    @Test
    void memoryEnableMapsTheBarAndMovesFollowIt() {
        PciDevice d = device();
        List<Move> moves = new ArrayList<>();
        d.addBarListener((dev, bar, o, n, size, h) -> moves.add(new Move(bar, o, n)));
        Bus mmio = new Bus("mmio");
        PciBarMapper mapper = new PciBarMapper(mmio);
        d.addBarListener(mapper);
        int slot = host.attach(d);
        long base = d.barAddress(0);
        assertTrue(moves.isEmpty(), "decoding is off until the driver enables it");
        assertFalse(mmio.claimed(base));

        cfgWrite(slot, PciDevice.COMMAND, 2, PciDevice.COMMAND_MEMORY);
        assertEquals(List.of(new Move(0, PciDevice.UNMAPPED, base)), moves);
        assertTrue(mmio.claimed(base));
        mmio.write(base + 0x20, 4, 1);
        assertEquals(0x20, regs.lastOffset);

        long moved = base + 0x100000;
        cfgWrite(slot, 0x10, 4, moved & 0xffffffffL);
        assertEquals(new Move(0, base, moved), moves.get(1));
        assertFalse(mmio.claimed(base));
        assertTrue(mmio.claimed(moved));
        assertEquals(moved, d.mappedBase(0));

        cfgWrite(slot, PciDevice.COMMAND, 2, 0);
        assertFalse(mmio.claimed(moved));
        assertEquals(PciDevice.UNMAPPED, d.mappedBase(0));
    }

    @Test
    void barMovedOntoAnotherWindowStaysUnmappedAndTheOtherSurvives() {
        Bus mmio = new Bus("mmio");
        Regs other = new Regs();
        mmio.register(0xd000_0000L, 0x1000, other);
        PciDevice d = device();
        PciBarMapper mapper = new PciBarMapper(mmio);
        d.addBarListener(mapper);
        int slot = host.attach(d);
        cfgWrite(slot, PciDevice.COMMAND, 2, PciDevice.COMMAND_MEMORY);
        cfgWrite(slot, 0x10, 4, 0xd000_0000L);
        assertEquals(1, mapper.conflicts());
        assertEquals(PciDevice.UNMAPPED, mapper.registeredBase(d, 0));
        cfgWrite(slot, 0x10, 4, 0xc800_0000L);
        mmio.write(0xd000_0000L, 4, 0);
        assertEquals(0, other.lastOffset, "the other window is still there");
        assertEquals(0xc800_0000L, mapper.registeredBase(d, 0));
    }

    @Test
    void resetControlRegisterRequestsReset() {
        host.write(1, 1, 0x02);
        assertEquals(0, resets.get());
        host.write(1, 1, 0x06); // Linux reboot=pci: cf9|2, then cf9|6
        assertEquals(1, resets.get());
        assertEquals(0x02, host.read(1, 1), "RST_CPU is self-clearing");
    }

    // ---- properties ----

    record Access(boolean write, int dev, int reg, int lane, int size, long value) {}

    @Provide
    Arbitrary<Access> accesses() {
        return Combinators.combine(
                        Arbitraries.of(true, false),
                        Arbitraries.integers().between(0, 3),
                        Arbitraries.integers().between(0, 255),
                        Arbitraries.integers().between(0, 3),
                        Arbitraries.of(1, 2, 4),
                        Arbitraries.oneOf(Arbitraries.longs(), Arbitraries.just(0xffffffffL)))
                .as(Access::new);
    }

    @Property(tries = 300)
    void arbitraryConfigAccessesKeepHeaderInvariants(@ForAll @Size(max = 80) List<@From("accesses") Access> ops) {
        PciHost h = new PciHost(MMIO, MMIO_SIZE, () -> {});
        Bus mmio = new Bus("mmio");
        PciDevice d = device();
        PciBarMapper mapper = new PciBarMapper(mmio);
        d.addBarListener(mapper);
        h.attach(d);
        for (Access a : ops) {
            h.write(0, 4, cfgAddress(a.dev, a.reg & 0xfc));
            if (a.write) {
                h.write(4 + a.lane, a.size, a.value);
            } else {
                long v = h.read(4 + a.lane, a.size);
                assertTrue(a.size == 8 || v >>> (8 * a.size) == 0);
            }
            assertEquals(0x1af4, d.readConfig(0, 2));
            assertEquals(PciDevice.BAR_MEM_64, d.readConfig(0x10, 4) & 0xf);
            assertEquals(0, d.barAddress(0) % 0x4000);
            long mappedAt = mapper.registeredBase(d, 0);
            if (!d.memoryEnabled()) {
                assertEquals(PciDevice.UNMAPPED, mappedAt);
            } else if (mappedAt != PciDevice.UNMAPPED) {
                assertEquals(d.barAddress(0), mappedAt);
                assertTrue(mmio.claimed(mappedAt));
            }
        }
    }
}
