package org.jvmd.vmd;

import org.jvmd.virtio.net.TunFlags;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.jvmd.proto.Termination;
import org.jvmd.proto.TunCapabilities;
import org.jvmd.proto.TunCapabilitiesReply;
import org.jvmd.sys.net.Netns;
import org.jvmd.vmd.config.ConfigEnvironment;
import org.jvmd.vmd.config.ConfigParser;
import org.jvmd.vmd.config.EtcAccounts;
import org.jvmd.vmd.config.LladdrGenerator;
import org.jvmd.vmd.config.VmSpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TUNSCAP: vmd applies the guest's acked offloads to its own copy of the tap and answers. */
class TunCapabilitiesTest {
    static final String NS = "jvmd-tuncap-" + ProcessHandle.current().pid();

    @BeforeAll
    static void createNamespace() throws Exception {
        VmTapsTest.sh("ip", "netns", "add", NS);
    }

    @AfterAll
    static void deleteNamespace() throws Exception {
        VmTapsTest.sh("ip", "netns", "del", NS);
    }

    @TempDir
    Path dir;

    @Test
    void acksAreAppliedToTheTapAndRefusalsAnswered() throws Exception {
        Files.writeString(dir.resolve("bzImage"), "k");
        var env = new ConfigEnvironment(EtcAccounts.of("root:x:0:0::/:/bin/sh\n", "root:x:0:\n"),
                LladdrGenerator.secure(), 1, Map.of());
        var cfg = new ConfigParser(env).parse("vm.conf", "vm \"t\" {\n boot \"bzImage\"\n interface\n}\n", dir)
                .config().orElseThrow();
        VmSpec spec = cfg.vm("t").orElseThrow();
        VmTaps taps = Netns.call(NS, () -> VmTaps.create(3, spec.interfaces(), cfg));
        VmLauncher.Listener none = new VmLauncher.Listener() {
            @Override
            public void started(int pid, String tty) {
            }

            @Override
            public void terminated(Termination how, String reason) {
            }
        };
        try {
            var p = new VmmLauncher.VmmProcess(spec, null, taps,
                    DiskImages.open(java.util.List.of(), org.jvmd.vmd.config.Accounts.NONE), none, 1000, 1000);
            int flags = TunFlags.CSUM | TunFlags.TSO4 | TunFlags.TSO6;
            TunCapabilitiesReply ok = p.applyTunCapabilities(TunCapabilities.newBuilder().setNic(0).setCsum(true)
                    .setTso4(true).setTso6(true).setTunFlags(flags).build());
            assertTrue(ok.getOk(), ok.toString());
            assertEquals(flags, ok.getAppliedFlags());
            String features = VmTapsTest.sh("ip", "netns", "exec", NS, "ethtool", "-k", "vm3-if0");
            assertTrue(features.contains("tcp-segmentation-offload: on"), features);

            TunCapabilitiesReply bad = p.applyTunCapabilities(TunCapabilities.newBuilder().setNic(0)
                    .setTunFlags(TunFlags.TSO4).build());
            assertFalse(bad.getOk());
            assertEquals(22, bad.getError().getErrno(), "TSO without checksum offload is EINVAL");

            TunCapabilitiesReply noNic = p.applyTunCapabilities(TunCapabilities.newBuilder().setNic(5).build());
            assertFalse(noNic.getOk());
        } finally {
            taps.close();
        }
    }
}
