package org.jvmd.vmd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
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
 * The VMs' console ptys as vmd keeps them: opened for the VM's owner, the same one for every
 * process of the VM until it stops, and nothing left open after.
 */
@RequiresRoot
class VmConsolesTest {
    static final int UID = 4242;
    static final int GID = 4343;

    @Test
    void aVmKeepsItsConsoleAcrossItsProcessesUntilItIsReleased() throws Exception {
        long before = Host.openFds();
        try (VmConsoles consoles = new VmConsoles()) {
            VmConsoles.Attach first = consoles.attach(7, UID, 0);
            Path tty = Path.of(first.path());
            assertEquals(UID, Files.getAttribute(tty, "unix:uid"));
            assertEquals(0, Files.getAttribute(tty, "unix:gid"));
            assertEquals(0620, (Integer) Files.getAttribute(tty, "unix:mode") & 07777);
            assertEquals(first.path(), Terminal.slavePath(first.master()), "the path is the master's own slave");

            // the first process ends (its master closes): the pty stays, and the next process of
            // the VM gets it again, with what the guest wrote before still there to read
            Terminal.write(first.master(), bytes("boot 1\n"), 0, 7);
            first.master().close();
            VmConsoles.Attach second = consoles.attach(7, UID, 0);
            assertEquals(first.path(), second.path(), "a reboot keeps the tty");
            assertTrue(Files.exists(tty));
            try (Fd client = Terminal.open(second.path())) {
                // raw: no CR added to the newline, no echo of the client's input back to it
                assertEquals("boot 1\n", read(client));
                Terminal.write(client, bytes("ls\r"), 0, 3);
                assertEquals("ls\r", read(second.master()));
                LibC.setNonBlocking(client, true);
                assertEquals(-Errno.EAGAIN, Terminal.tryRead(client, new byte[16]), "nothing echoed");
            }
            second.master().close();

            // another VM: another pty; its owner's group may attach too
            VmConsoles.Attach other = consoles.attach(8, UID, GID);
            assertNotEquals(first.path(), other.path());
            assertEquals(GID, Files.getAttribute(Path.of(other.path()), "unix:gid"));
            assertEquals(0660, (Integer) Files.getAttribute(Path.of(other.path()), "unix:mode") & 07777);
            other.master().close();
            assertEquals(2, consoles.size());

            // VM 7 stops: its pty goes (the slave's node with the last master)
            consoles.release(7);
            assertEquals(1, consoles.size());
            assertFalse(Files.exists(tty) && ownedBy(tty, UID, 0), "vm 7's pty is gone: " + tty);
            consoles.release(7); // twice is nothing
        }
        assertEquals(before, Host.openFds(), "every master and slave closed");
    }

    @Test
    void aVmStartedAgainUnderAnotherOwnerGetsANewConsole() throws Exception {
        long before = Host.openFds();
        try (VmConsoles consoles = new VmConsoles()) {
            VmConsoles.Attach a = consoles.attach(3, UID, 0);
            a.master().close();
            VmConsoles.Attach b = consoles.attach(3, UID + 1, 0);
            b.master().close();
            assertEquals(UID + 1, Files.getAttribute(Path.of(b.path()), "unix:uid"));
            assertEquals(1, consoles.size(), "the old one closed");
        }
        assertEquals(before, Host.openFds());
    }

    @Test
    void aDescriptorThatIsNotAPtyMasterHasNoSlavePath() throws Exception {
        try (Fd f = LibC.open("/dev/null", LibC.O_RDWR | LibC.O_CLOEXEC, 0)) {
            SysException e = assertThrows(SysException.class, () -> Terminal.slavePath(f));
            assertEquals(Errno.ENOTTY, e.errno());
        }
    }

    static boolean ownedBy(Path p, int uid, int gid) {
        try {
            return (Integer) Files.getAttribute(p, "unix:uid") == uid && (Integer) Files.getAttribute(p, "unix:gid") == gid;
        } catch (IOException e) {
            return false;
        }
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    /** What is there to read within a second (the pty hands written bytes over at once). */
    static String read(Fd fd) throws SysException {
        byte[] buf = new byte[256];
        assertTrue((LibC.poll(fd, LibC.POLLIN, 1_000) & LibC.POLLIN) != 0, "readable");
        int n = Terminal.read(fd, buf);
        return new String(Arrays.copyOf(buf, n), StandardCharsets.US_ASCII);
    }
}
