package org.jvmd.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import org.junit.jupiter.api.Test;

class LabFaultsTest {
    /** What sayStockGuestTripleFaults printed, and what it returned. */
    private record Said(boolean any, String out) {}

    private static Said say(String vmmOutput) {
        PrintStream was = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            boolean any = LabFaults.sayStockGuestTripleFaults(vmmOutput.lines());
            return new Said(any, buf.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(was);
        }
    }

    @Test
    void aTripleFaultLineIsSaidOnALineOfItsOwnThatScriptsTestFinds() throws Exception {
        String fault = "vm/lab2: reboot: lab2/vcpu0: triple fault (rip=fff0 rflags=2) after 4.19 s";
        Said s = say("vm/lab2: kernel 0x1000000 set up in 6939 ms\n  " + fault + "\n");
        assertTrue(s.any());
        assertEquals(LabFaults.STOCK_GUEST_RESET + fault + System.lineSeparator(), s.out());
        // scripts/test retries a failed lab run whose log has this line at a line's start.
        String script = Files.readString(Host.projectRoot().resolve("scripts/test"));
        assertTrue(script.contains("grep -aq '^" + LabFaults.STOCK_GUEST_RESET.strip() + "'"),
                "scripts/test no longer looks for " + LabFaults.STOCK_GUEST_RESET);
    }

    @Test
    void otherEndsSayNothing() {
        Said s = say("vm/lab2: poweroff: guest powered off (ACPI S5)\nvm/lab2: reboot: i8042 reset\n");
        assertFalse(s.any());
        assertEquals("", s.out());
    }
}
