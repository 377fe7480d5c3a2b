package org.jvmd.vmd.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A configuration that needs more generated lladdrs at one interface index than exist is an
 * error at the line that asked for the one too many, never an exception out of the parser
 * (issue 11: {@code vmd -n} printed IllegalStateException's stack trace).
 */
class LladdrExhaustionTest {
    @TempDir
    Path tmp;

    /** A generator with room for {@code size} addresses per index. */
    private static LladdrGenerator pool(int size) {
        int[] n = {0};
        return index -> MacAddress.of(new byte[] {
            (byte) 0xfe, (byte) 0xe1, (byte) 0xbb, (byte) (0xd0 | ((index + 1) & 0xf)), 0, (byte) (1 + n[0]++ % size),
        });
    }

    private ParseResult parse(Fixture fx, LladdrGenerator g, Path file) {
        return new ConfigParser(new ConfigEnvironment(Fixture.ACCOUNTS, g, 4, Map.of())).parseFile(file);
    }

    @Test
    void theVmThatFindsNoLladdrIsReportedAtItsInterfacesLineInItsIncludedFile() {
        Fixture fx = new Fixture(tmp);
        String k = fx.kernel.toString();
        fx.write("a.conf", "vm \"a1\" {\n\tboot \"" + k + "\"\n\tinterfaces 1\n}\n"
                + "vm \"a2\" {\n\tboot \"" + k + "\"\n\tinterfaces 1\n}\n");
        fx.write("b.conf", "vm \"b1\" {\n\tboot \"" + k + "\"\n\tinterfaces 1\n}\n"
                + "vm \"b2\" {\n\tboot \"" + k + "\"\n\tinterface { switch \"sw\" }\n}\n"
                + "vm \"a1\" instance \"b3\" {\n}\n");
        Path main = fx.write("vm.conf", "switch \"sw\" {\n\tinterface br0\n}\ninclude \"a.conf\"\ninclude \"b.conf\"\n");
        ParseResult r = parse(fx, pool(3), main);
        List<String> errors = r.errors().stream().map(ConfigError::toString).toList();
        String why = "no unused lladdr left for interface 0: every generated address for it is taken (set one with lladdr)";
        assertEquals(List.of(
                tmp.resolve("b.conf").toAbsolutePath() + ":7: " + why,
                tmp.resolve("b.conf").toAbsolutePath() + ":9: vm \"b3\" needs an lladdr: " + why), errors);
        assertFalse(r.ok());
    }

    @Test
    void anExhaustedIndexFailsAtOnceForEveryLaterVm() {
        LladdrAllocator a = new LladdrAllocator(pool(2), List.of());
        a.allocate(0);
        a.allocate(0);
        assertThrows(LladdrAllocator.Exhausted.class, () -> a.allocate(0));
        // A generator that would now find a free address is not asked again: the index is spent.
        assertThrows(LladdrAllocator.Exhausted.class, () -> a.allocate(0));
        assertTrue(a.allocate(1).toString().startsWith("fe:e1:bb:d2"));
    }

    @Test
    void vmdsSchemeRunsOutAfter65536VmsAtOneIndexAndTheRestAreErrorsNotAHang() {
        // The case at scale: vmd's fe:e1:bb:d1:xx:xx has 2^16 addresses for interface 0;
        // 65,600 VMs with "interfaces 1" spread over four included files.
        Fixture fx = new Fixture(tmp);
        int vms = 65_600;
        StringBuilder main = new StringBuilder();
        for (int f = 0; f < 4; f++) {
            StringBuilder b = new StringBuilder();
            for (int i = f; i < vms; i += 4) {
                b.append("vm \"v").append(i).append("\" { boot \"bzImage\"; interfaces 1 }\n");
            }
            fx.write("part" + f + ".conf", b.toString());
            main.append("include \"part").append(f).append(".conf\"\n");
        }
        ParseResult r = parse(fx, LladdrGenerator.vmd(new Random(11)), fx.write("vm.conf", main.toString()));
        assertEquals(vms - 65_536, r.errors().size(), () -> r.errors().subList(0, Math.min(5, r.errors().size())).toString());
        for (ConfigError e : r.errors()) {
            assertTrue(e.toString().matches(".*/part[0-3]\\.conf:[0-9]+: no unused lladdr left for interface 0: .*"),
                    e.toString());
        }
    }
}
