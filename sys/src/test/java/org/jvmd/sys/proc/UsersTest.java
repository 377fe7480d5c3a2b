package org.jvmd.sys.proc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import org.junit.jupiter.api.Test;
import org.jvmd.sys.Native;

class UsersTest {
    @Test
    void lookupAgreesWithJnrPosixForRootAndTheDropUser() throws IOException {
        for (String user : new String[] {"root", Shed.DEFAULT_USER}) {
            jnr.posix.Passwd pw = Native.posix().getpwnam(user);
            Users.Ids ids = Users.lookup(user);
            assertEquals(new Users.Ids(user, (int) pw.getUID(), (int) pw.getGID()), ids);
            assertEquals(user, Users.userName(ids.uid()));
            assertEquals(Native.posix().getgrgid(ids.gid()).getName(), Users.groupName(ids.gid()));
            assertEquals(ids.gid(), Users.groupId(Users.groupName(ids.gid())));
        }
    }

    @Test
    void anUnknownUserOrGroupIsAClearError() {
        IOException e = assertThrows(IOException.class, () -> Users.lookup("no-such-user-jvmd"));
        assertTrue(e.getMessage().contains("no-such-user-jvmd") && e.getMessage().contains("no such user"),
                e.getMessage());
        e = assertThrows(IOException.class, () -> Users.groupId("no-such-group-jvmd"));
        assertTrue(e.getMessage().contains("no such group"), e.getMessage());
    }

    @Test
    void anIdWithoutANameReadsAsItsNumber() {
        assertEquals("3999999", Users.userName(3_999_999));
        assertEquals("3999999", Users.groupName(3_999_999));
    }
}
