package org.jvmd.sys.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.System.Logger.Level;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.junit.jupiter.api.Test;

class LogLineTest {
    @Test
    void aLineIsTitleLevelMessage() {
        assertEquals("vmd: info: startup: 2 vms", LogLine.line("vmd", Level.INFO, "startup: 2 vms", null, false));
        assertEquals("vm/web/vionet0: debug: paused", LogLine.line("vm/web/vionet0", Level.DEBUG, "paused", null, true));
        assertEquals("vm/web: warning: x", LogLine.line("vm/web", Level.WARNING, "x", null, false));
        assertEquals("vmd: error: x", LogLine.line("vmd", Level.ERROR, "x", null, false));
    }

    @Test
    void levelsAreVmdsWords() {
        assertEquals("debug", LogLine.level(Level.TRACE));
        assertEquals("debug", LogLine.level(Level.DEBUG));
        assertEquals("info", LogLine.level(Level.INFO));
        assertEquals("warning", LogLine.level(Level.WARNING));
        assertEquals("error", LogLine.level(Level.ERROR));
    }

    @Test
    void aThrowableFollowsTheMessageItsStackTraceOnlyAtDebug() {
        Exception e = new IllegalStateException("broken");
        assertEquals("vmd: warning: reload: java.lang.IllegalStateException: broken",
                LogLine.line("vmd", Level.WARNING, "reload", e, false));
        String traced = LogLine.line("vmd", Level.WARNING, "reload", e, true);
        String[] lines = traced.split("\n");
        assertEquals("vmd: warning: reload: java.lang.IllegalStateException: broken", lines[0]);
        assertTrue(lines.length > 1 && lines[1].startsWith("\tat org.jvmd.sys.log.LogLineTest."), traced);
    }

    @Test
    void parametersAreSubstitutedWithoutMessageFormat() {
        assertEquals("BAR 2 left unmapped: EINVAL", LogLine.substitute("BAR {0} left unmapped: {1}", 2, "EINVAL"));
        assertEquals("12345 {2} {x} {} {", LogLine.substitute("{0} {2} {x} {} {", 12345));
        assertEquals("a {0} b", LogLine.substitute("a {0} b"));
        assertEquals("null", LogLine.substitute(null, 1));
        assertEquals("null 1", LogLine.substitute("{0} {1}", null, 1));
    }

    @Property
    void substitutingNothingKeepsTheFormat(@ForAll String format) {
        assertEquals(format, LogLine.substitute(format));
        String plain = format.replace("{", "(");
        assertEquals(plain, LogLine.substitute(plain, "P", 2));
    }
}
