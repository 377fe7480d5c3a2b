package org.jvmd.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.jvmd.sys.Errno;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.SysException;
import org.jvmd.sys.Terminal;
import org.jvmd.testkit.Host;
import org.jvmd.testkit.RequiresRoot;

/**
 * The console pty as vmm-proc holds it: vmd's, adopted from its master (the slave vmd holds
 * stays, the console goes on for the VM's next process), or one of its own.
 */
@RequiresRoot
class ConsolePtyTest {
    @Test
    void anAdoptedPtyCarriesTheGuestsOutputAndLeavesVmdsConsoleOpenWhenItCloses() throws Exception {
        long before = Host.openFds();
        try (Terminal.Console vmds = Terminal.openConsole(4242, 0);
                Fd client = Terminal.open(vmds.path())) {
            ConsolePty first = ConsolePty.adopt(vmds.master().dup());
            assertEquals(vmds.path(), first.path());
            OutputStream sink = first.sink();
            sink.write("boot 1\n".getBytes(StandardCharsets.US_ASCII));
            first.close();
            assertEquals("boot 1\n", read(client));

            // the VM's next process (a reboot) on the same pty: the client is still attached
            ConsolePty second = ConsolePty.adopt(vmds.master().dup());
            assertEquals(vmds.path(), second.path());
            second.sink().write("boot 2\n".getBytes(StandardCharsets.US_ASCII));
            assertEquals("boot 2\n", read(client));
            second.close();
        }
        assertEquals(before, Host.openFds(), "nothing left open");
    }

    @Test
    void adoptingWhatIsNotAPtyMasterFailsAndClosesIt() throws Exception {
        Fd f = LibC.open("/dev/null", LibC.O_RDWR | LibC.O_CLOEXEC, 0);
        Path link = Path.of("/proc/self/fd/" + f.num());
        assertTrue(pointsTo(link, "/dev/null"));
        SysException e = assertThrows(SysException.class, () -> ConsolePty.adopt(f));
        assertEquals(Errno.ENOTTY, e.errno());
        // that descriptor, not a count of the JVM's (other threads open and close theirs meanwhile)
        assertFalse(pointsTo(link, "/dev/null"), "the descriptor closed");
    }

    /** Whether the symbolic link {@code link} exists and names {@code target}. */
    static boolean pointsTo(Path link, String target) {
        try {
            return Files.readSymbolicLink(link).toString().equals(target);
        } catch (java.io.IOException e) {
            return false;   // gone
        }
    }

    @Test
    void aPtyOfItsOwnBelongsToTheVmsOwner() throws Exception {
        long before = Host.openFds();
        ConsolePty own = ConsolePty.open(4242, 4343);
        try {
            Path tty = Path.of(own.path());
            assertEquals(4242, Files.getAttribute(tty, "unix:uid"));
            assertEquals(4343, Files.getAttribute(tty, "unix:gid"));
            assertEquals(0660, (Integer) Files.getAttribute(tty, "unix:mode") & 07777);
        } finally {
            own.close();
        }
        assertEquals(before, Host.openFds());
    }

    static String read(Fd fd) throws SysException {
        byte[] buf = new byte[256];
        assertTrue((LibC.poll(fd, LibC.POLLIN, 1_000) & LibC.POLLIN) != 0, "readable");
        int n = Terminal.read(fd, buf);
        return new String(Arrays.copyOf(buf, n), StandardCharsets.US_ASCII);
    }
}
