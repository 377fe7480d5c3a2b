package org.jvmd.sys.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import org.jvmd.sys.Fd;
import org.jvmd.sys.IoVec;
import org.jvmd.sys.LibC;
import org.jvmd.virtio.GuestFault;

class MappedGuestMemoryTest {
    private static final long PAGE = 4096;
    private static Fd memfd;
    private static MappedGuestMemory mem;

    /** Two regions with a hole: [0, 2 pages) at memfd 0, [16 pages, 17 pages) at memfd 2 pages. */
    @BeforeContainer
    static void mapTwoRegions() throws Exception {
        memfd = Memfd.create("jvmd-test", 3 * PAGE);
        mem = MappedGuestMemory.map(memfd, List.of(
                new MappedGuestMemory.Range(0, 2 * PAGE, 0),
                new MappedGuestMemory.Range(16 * PAGE, PAGE, 2 * PAGE)));
    }

    @AfterContainer
    static void unmap() {
        mem.close();
        memfd.close();
    }

    @Example
    void valuesAreLittleEndianAndSharedThroughTheMemfd() throws Exception {
        mem.writeInt(16 * PAGE + 8, 0x11223344);
        assertEquals(0x44, mem.readByte(16 * PAGE + 8));
        assertEquals(0x3344, mem.readShort(16 * PAGE + 8));
        // A second mapping of the same memfd (another process would do the same) sees it.
        try (MappedGuestMemory other = MappedGuestMemory.map(memfd, 3 * PAGE)) {
            assertEquals(0x11223344, other.readInt(2 * PAGE + 8));
            other.writeLong(2 * PAGE + 16, 0x0102030405060708L);
        }
        assertEquals(0x0102030405060708L, mem.readLong(16 * PAGE + 16));
    }

    @Example
    void acquireReleaseNeedAlignment() throws Exception {
        mem.writeShortRelease(100, (short) 0xbeef);
        assertEquals((short) 0xbeef, mem.readShortAcquire(100));
        GuestFault f = assertThrows(GuestFault.class, () -> mem.readShortAcquire(101));
        assertEquals(GuestFault.Reason.MISALIGNED, f.reason());
    }

    @Example
    void accessesInTheHoleOrAcrossARegionEndFault() throws Exception {
        assertEquals(GuestFault.Reason.ADDRESS_OUT_OF_RANGE,
                assertThrows(GuestFault.class, () -> mem.readByte(2 * PAGE)).reason());
        assertThrows(GuestFault.class, () -> mem.readInt(2 * PAGE - 2));
        assertThrows(GuestFault.class, () -> mem.read(2 * PAGE - 10, new byte[20], 0, 20));
        assertThrows(GuestFault.class, () -> mem.readLong(17 * PAGE - 4));
        assertThrows(GuestFault.class, () -> mem.slice(-1, 1));
        assertThrows(GuestFault.class, () -> mem.slice(Long.MAX_VALUE, 2));
        assertFalse(mem.contains(2 * PAGE - 1, 2));
        assertTrue(mem.contains(16 * PAGE, PAGE));
        assertTrue(mem.contains(2 * PAGE, 0), "an empty range at a region's end");
        assertFalse(mem.contains(3 * PAGE, 0), "an empty range in the hole");
        assertEquals(0, mem.slice(17 * PAGE, 0).byteSize());
        assertEquals(17 * PAGE, mem.size());
    }

    /** Any access is either inside one region and round-trips, or faults; nothing else escapes. */
    @Property(tries = 300)
    void everyAccessRoundTripsOrFaults(@ForAll long gpa, @ForAll byte v) throws Exception {
        long a = Math.floorMod(gpa, 20 * PAGE) - (gpa % 3 == 0 ? 0 : 3);
        boolean inside = mem.contains(a, 8);
        try {
            mem.writeLong(a, v);
            assertTrue(inside);
            assertEquals(v, mem.readLong(a));
        } catch (GuestFault f) {
            assertFalse(inside);
        }
    }

    @Example
    void ioVecCoversGuestMemoryWithoutCopies() throws Exception {
        mem.write(16 * PAGE, "hello".getBytes(), 0, 5);
        Fd[] p = LibC.socketpair(LibC.AF_UNIX, LibC.SOCK_SEQPACKET | LibC.SOCK_CLOEXEC, 0);
        try (Fd a = p[0]; Fd b = p[1]) {
            IoVec v = new IoVec(4);
            v.add(mem, 16 * PAGE, 5);
            assertEquals(5, LibC.writev(a, v));
            v.clear();
            v.add(mem, 100, 2);
            v.add(mem, PAGE, 3);
            assertEquals(5, LibC.readv(b.num(), v));
            byte[] got = new byte[3];
            mem.read(PAGE, got, 0, 3);
            assertEquals("he", new String(new byte[] {mem.readByte(100), mem.readByte(101)}));
            assertEquals("llo", new String(got));
            assertThrows(GuestFault.class, () -> v.add(mem, 2 * PAGE - 1, 2));
        }
    }
}
