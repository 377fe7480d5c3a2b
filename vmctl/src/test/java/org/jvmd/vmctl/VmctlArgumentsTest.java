package org.jvmd.vmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** vmctl's command line: prefixes, usage errors, argument checks and exit codes (no daemon needed). */
class VmctlArgumentsTest {
    @TempDir
    Path dir;

    Vmctl.Result vmctl(String... args) {
        return VmctlRun.inJvm(args);
    }

    String sock() {
        return dir.resolve("none.sock").toString();
    }

    @Test
    void noCommandPrintsUsageAndExits1() {
        Vmctl.Result r = vmctl();
        assertEquals(1, r.status());
        assertTrue(r.err().startsWith("usage:\tvmctl [-v] [-s socket] command [arg ...]\n"), r.err());
        assertTrue(r.err().contains("\tvmctl stop [-fw] [id | -a]\n"), r.err());
    }

    @Test
    void unknownCommandIsReported() {
        Vmctl.Result r = vmctl("frobnicate");
        assertEquals(1, r.status());
        assertTrue(r.err().startsWith("unknown argument: frobnicate\nusage:"), r.err());
    }

    @Test
    void ambiguousPrefixIsReported() {
        Vmctl.Result r = vmctl("s");
        assertEquals(1, r.status());
        assertTrue(r.err().startsWith("ambiguous argument: s\nusage:"), r.err());
        assertTrue(vmctl("un").err().isEmpty() || !vmctl("un").err().startsWith("ambiguous"));
    }

    @Test
    void uniquePrefixesSelectTheCommand() {
        // each reaches the daemon: the connect error names the socket, proving the command ran
        for (String p : new String[] {"stat", "statu", "sto", "sh", "star", "con", "pa", "unp", "rel", "stats"}) {
            String[] args = p.equals("stat") || p.equals("statu") || p.equals("sh") || p.equals("rel")
                    ? new String[] {"-s", sock(), p} : new String[] {"-s", sock(), p, "1"};
            Vmctl.Result r = vmctl(args);
            assertEquals(1, r.status(), p);
            assertTrue(r.err().contains("vmctl: connect: " + sock() + ": No such file or directory"), p + ": " + r.err());
        }
    }

    @Test
    void statPrefersVmctlsStatusOverStats() {
        assertEquals("status", new Vmctl(System.in, System.out, System.err).lookup("stat").name());
        assertEquals("stats", new Vmctl(System.in, System.out, System.err).lookup("stats").name());
    }

    @Test
    void resetWordsTakeAnyCaseAndLogLevelsAnyCaseOrPrefixAsVmctls() {
        for (String[] args : new String[][] {{"reset", "ALL"}, {"reset", "Vms"}, {"reset", "switches"},
                {"log", "VERBOSE"}, {"log", "v"}, {"log", "Brief"}, {"log", "b"}}) {
            Vmctl.Result r = vmctl(java.util.stream.Stream.concat(java.util.stream.Stream.of("-s", sock()),
                    java.util.Arrays.stream(args)).toArray(String[]::new));
            assertEquals(1, r.status(), String.join(" ", args));
            assertTrue(r.err().startsWith("vmctl: connect: " + sock()), String.join(" ", args) + ": " + r.err());
        }
        assertEquals("usage:\tvmctl [-v] [-s socket] log [brief | verbose]\n", vmctl("-s", sock(), "log", "verbosely").err());
        assertEquals("usage:\tvmctl [-v] [-s socket] reset [all | switches | vms]\n", vmctl("-s", sock(), "reset", "al").err());
        assertTrue(Vmctl.abbreviates("VERB", "verbose"));
        assertTrue(!Vmctl.abbreviates("verbosex", "verbose"));
    }

    @Test
    void commandUsageErrors() {
        Vmctl.Result r = vmctl("-s", sock(), "pause");
        assertEquals(1, r.status());
        assertEquals("usage:\tvmctl [-v] [-s socket] pause id\n", r.err());
        r = vmctl("-s", sock(), "stop");
        assertEquals("usage:\tvmctl [-v] [-s socket] stop [-fw] [id | -a]\n", r.err());
        r = vmctl("-s", sock(), "stop", "-a", "web");
        assertEquals(1, r.status());
        assertTrue(r.err().startsWith("usage:\tvmctl [-v] [-s socket] stop"), r.err());
        r = vmctl("-s", sock(), "log", "loud");
        assertEquals("usage:\tvmctl [-v] [-s socket] log [brief | verbose]\n", r.err());
        r = vmctl("-s", sock(), "reset", "everything");
        assertEquals("usage:\tvmctl [-v] [-s socket] reset [all | switches | vms]\n", r.err());
        r = vmctl("-s", sock(), "start", "web", "-x");
        assertEquals(1, r.status());
        // getopt's complaint, then ctl_usage (vmctl's ctl_start takes the name first, then getopt)
        assertTrue(r.err().startsWith("vmctl: unknown option -- x\nusage:\tvmctl [-v] [-s socket] start [-cL]"), r.err());
    }

    @Test
    void startChecksItsArgumentsBeforeConnecting() {
        assertEquals("vmctl: invalid VM name\n", vmctl("-s", sock(), "start", "_web").err());
        assertEquals("vmctl: invalid VM name\n", vmctl("-s", sock(), "start", "we/b").err());
        assertEquals("vmctl: size must be at least one megabyte\n", vmctl("-s", sock(), "start", "web", "-m", "1K").err());
        assertEquals("vmctl: invalid count \"x\": invalid\n", vmctl("-s", sock(), "start", "web", "-i", "x").err());
        assertEquals("vmctl: too many network interfaces\n", vmctl("-s", sock(), "start", "web", "-i", "5").err());
        assertEquals("vmctl: cannot open kernel 'nokernel': No such file or directory\n",
                vmctl("-s", sock(), "start", "web", "-b", "nokernel").err());
        assertEquals(1, vmctl("-s", sock(), "start", "web", "-m", "1K").status());
    }

    @Test
    void sizesRoundToMegabytesWithAWarning() {
        Vmctl v = new Vmctl(System.in, new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(new ByteArrayOutputStream()));
        assertEquals(512, v.parseSize("512M"));
        assertEquals(1536, v.parseSize("1.5G"));
        assertEquals(1, v.parseSize("1048577"));
        Vmctl.Result r = vmctl("-s", sock(), "start", "web", "-m", "1048577");
        assertTrue(r.err().startsWith("vmctl: size rounded to 1 megabytes\n"), r.err());
    }

    @Test
    void missingSocketIsAConnectError() {
        Vmctl.Result r = vmctl("-s", sock(), "status");
        assertEquals(1, r.status());
        assertEquals("vmctl: connect: " + sock() + ": No such file or directory\n", r.err());
    }

    @Test
    void diskArgumentsTakeVmctlsFormatPrefixesAndBecomeAbsolute() throws Exception {
        java.nio.file.Files.writeString(dir.resolve("a.img"), "");
        Vmctl v = new Vmctl(System.in, new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(new ByteArrayOutputStream()));
        String a = dir.resolve("a.img").toString();
        assertEquals(org.jvmd.proto.DiskRequest.newBuilder().setPath(a)
                .setFormat(org.jvmd.proto.DiskFormat.FORMAT_AUTO).build(), v.disk(a));
        assertEquals(org.jvmd.proto.DiskFormat.FORMAT_RAW, v.disk("raw:" + a).getFormat());
        assertEquals(org.jvmd.proto.DiskFormat.FORMAT_QCOW2, v.disk("qcow2:" + dir + "/./a.img").getFormat());
        assertEquals(a, v.disk("qcow2:" + dir + "/./a.img").getPath());
    }

    @Test
    void startRefusesMissingOrTooManyDisksBeforeConnecting() throws Exception {
        assertEquals("vmctl: invalid disk path: nodisk.img: No such file or directory\n",
                vmctl("-s", sock(), "start", "web", "-d", "nodisk.img").err());
        assertEquals("vmctl: invalid disk path: : No such file or directory\n",
                vmctl("-s", sock(), "start", "web", "-d", "raw:").err());
        String a = java.nio.file.Files.writeString(dir.resolve("a.img"), "").toString();
        assertEquals("vmctl: too many disks\n",
                vmctl("-s", sock(), "start", "web", "-d", a, "-d", a, "-d", a, "-d", a, "-d", a).err());
        Vmctl.Result r = vmctl("-s", sock(), "start", "web", "-d", a, "-d", "raw:" + a);
        assertEquals(1, r.status());
        assertEquals("vmctl: connect: " + sock() + ": No such file or directory\n", r.err(), "two disks reach vmd");
    }
}
