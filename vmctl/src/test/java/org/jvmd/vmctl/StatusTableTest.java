package org.jvmd.vmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.jvmd.proto.VmState;
import org.jvmd.proto.VmStatus;
import org.junit.jupiter.api.Test;

/** vmctl status's table, column by column (print_vm_info's widths). */
class StatusTableTest {
    /** About the bytes a fmt_scaled(3) text stands for ("1.5M", "192M", "0B"); -1 for "-". */
    static long scaled(String text) {
        if (text.equals("-")) {
            return -1;
        }
        int unit = "BKMGTPE".indexOf(text.charAt(text.length() - 1));
        assertTrue(unit >= 0, "a scaled size: " + text);
        return (long) (Double.parseDouble(text.substring(0, text.length() - 1)) * (1L << (10 * unit)));
    }

    @Test
    void scaledReadsWhatFmtScaledWrites() {
        for (long v : new long[] {0, 1000, 37L << 20, (3L << 20) / 2, 192L << 20, 1L << 30}) {
            long back = scaled(FmtScaled.format(v));
            assertTrue(Math.abs(back - v) <= v / 20, v + " -> " + FmtScaled.format(v) + " -> " + back);
        }
        assertEquals(-1, scaled("-"));
    }

    /** Splits a line at print_vm_info's fixed widths: 5 5 5 7 7 7 12 8, then the name. */
    static String[] columns(String line) {
        int[] w = {5, 5, 5, 7, 7, 7, 12, 8};
        String[] out = new String[w.length + 1];
        int pos = 0;
        for (int i = 0; i < w.length; i++) {
            out[i] = line.substring(pos, pos + w[i]);
            pos += w[i];
            assertEquals(' ', line.charAt(pos), "a space after column " + i + " of [" + line + "]");
            pos++;
        }
        out[w.length] = line.substring(pos);
        return out;
    }

    @Test
    void headerHasVmctlsColumnsAndWidths() {
        String[] c = columns(StatusTable.HEADER);
        assertEquals(List.of("   ID", "  PID", "VCPUS", " MAXMEM", " CURMEM", "    TTY", "       OWNER",
                "   STATE", "NAME"), List.of(c));
    }

    @Test
    void runningVmShowsPidMemoryTtyWithoutDevAndState() {
        VmStatus v = VmStatus.newBuilder().setId(3).setPid(4242).setVcpus(2).setMaxMemory(1L << 30)
                .setCurMemory(512L << 20).setTty("/dev/pts/7").setOwnerUid(0).setOwnerGid(-1)
                .setState(VmState.RUNNING).setName("web").build();
        String[] c = columns(StatusTable.line(v, true));
        assertEquals("    3", c[0]);
        assertEquals(" 4242", c[1]);
        assertEquals("    2", c[2]);
        assertEquals("   1.0G", c[3]);
        assertEquals("   512M", c[4]);
        assertEquals("      7", c[5]);
        assertEquals("        root", c[6]);
        assertEquals(" running", c[7]);
        assertEquals("web", c[8]);
    }

    @Test
    void stoppedVmShowsDashesForPidCurmemAndTty() {
        VmStatus v = VmStatus.newBuilder().setId(12).setVcpus(1).setMaxMemory(512L << 20).setOwnerUid(0)
                .setOwnerGid(0).setState(VmState.STOPPED).setName("db").build();
        String[] c = columns(StatusTable.line(v, false));
        assertEquals("   12", c[0]);
        assertEquals("    -", c[1]);
        assertEquals("    1", c[2]);
        assertEquals("   512M", c[3]);
        assertEquals("      -", c[4]);
        assertEquals("      -", c[5]);
        assertEquals("   root:root", c[6]);
        assertEquals(" stopped", c[7]);
        assertEquals("db", c[8]);
    }

    @Test
    void unknownOwnerPrintsTheNumberAndPausedShowsPaused() {
        VmStatus v = VmStatus.newBuilder().setId(1).setPid(9).setVcpus(1).setMaxMemory(1L << 20)
                .setCurMemory(1L << 20).setTty("").setOwnerUid(54321).setOwnerGid(-1)
                .setState(VmState.PAUSED).setName("x").build();
        String[] c = columns(StatusTable.line(v, true));
        assertEquals("       54321", c[6]);
        assertEquals("  paused", c[7]);
        assertEquals("      -", c[5], "no tty yet");
    }

    @Test
    void dashRSkipsVmsWithoutAProcess() {
        VmStatus run = VmStatus.newBuilder().setId(1).setPid(5).setState(VmState.RUNNING).setName("a").build();
        VmStatus off = VmStatus.newBuilder().setId(2).setState(VmState.STOPPED).setName("b").build();
        String t = StatusTable.format(List.of(run, off), true);
        assertEquals(2, t.split("\n").length);
        assertEquals("a", columns(t.split("\n")[1])[8]);
    }

    @Test
    void aVmsDisksFollowItsLineInGuestOrder() {
        VmStatus v = VmStatus.newBuilder().setId(2).setVcpus(1).setMaxMemory(512L << 20).setOwnerUid(0)
                .setOwnerGid(-1).setState(VmState.STOPPED).setName("db").addDisks("/var/vm/db.img")
                .addDisks("qcow2:/var/vm/data.qcow2").build();
        VmStatus plain = v.toBuilder().setId(3).setName("web").clearDisks().build();
        List<String> lines = StatusTable.format(List.of(v, plain), false).lines().toList();
        assertEquals(List.of(StatusTable.HEADER, StatusTable.line(v, false), "      disk0 /var/vm/db.img",
                "      disk1 qcow2:/var/vm/data.qcow2", StatusTable.line(plain, false)), lines);
    }
}
