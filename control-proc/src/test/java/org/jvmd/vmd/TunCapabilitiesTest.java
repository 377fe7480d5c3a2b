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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvmd.testkit.NetNs;
import org.jvmd.testkit.NetnsTest;

/** TUNSCAP: vmd applies the guest's acked offloads to its own copy of the tap and answers. */
@NetnsTest
class TunCapabilitiesTest {
    @TempDir
    Path dir;

    @Test
    void acksAreAppliedToTheTapAndRefusalsAnswered(NetNs ns) throws Exception {
        Files.writeString(dir.resolve("bzImage"), "k");
        var env = new ConfigEnvironment(EtcAccounts.of("root:x:0:0::/:/bin/sh\n", "root:x:0:\n"),
                LladdrGenerator.secure(), 1, Map.of());
        var cfg = new ConfigParser(env).parse("vm.conf", "vm \"t\" {\n boot \"bzImage\"\n interface\n}\n", dir)
                .config().orElseThrow();
        VmSpec spec = cfg.vm("t").orElseThrow();
        VmTaps taps = Netns.call(ns.name(), () -> VmTaps.create(3, spec.interfaces(), cfg));
        VmLauncher.Listener none = new VmLauncher.Listener() {
            @Override
            public void started(int pid, String tty) {
            }

            @Override
            public void terminated(Termination how, String reason) {
            }
        };
        try {
            var p = new VmmProcSpawner.VmmProcess(spec, null, "", taps,
                    DiskImages.open(java.util.List.of()), none, 1000, 1000);
            int flags = TunFlags.CSUM | TunFlags.TSO4 | TunFlags.TSO6;
            TunCapabilitiesReply ok = p.applyTunCapabilities(TunCapabilities.newBuilder().setNic(0).setTunFlags(flags).build());
            assertTrue(ok.getOk(), ok.toString());
            assertEquals(flags, ok.getAppliedFlags());
            String features = ns.exec("ethtool", "-k", "vm3-if0");
            assertTrue(features.contains("tcp-segmentation-offload: on"), features);

            TunCapabilitiesReply bad = p.applyTunCapabilities(TunCapabilities.newBuilder().setNic(0)
                    .setTunFlags(TunFlags.TSO4).build());
            assertFalse(bad.getOk());
            assertEquals(22, bad.getError().getErrno(), "TSO without checksum offload is EINVAL");

            // a forged word (a bit no guest feature gives) is refused by vmd itself, the tap untouched
            TunCapabilitiesReply forged = p.applyTunCapabilities(TunCapabilities.newBuilder().setNic(0)
                    .setTunFlags(flags | 0x80).build());
            assertFalse(forged.getOk());
            assertEquals(22, forged.getError().getErrno());
            assertTrue(forged.getError().getMessage().contains("offload flags 0x87 refused"), forged.toString());
            assertTrue(ns.exec("ethtool", "-k", "vm3-if0").contains("tcp-segmentation-offload: on"));

            TunCapabilitiesReply noNic = p.applyTunCapabilities(TunCapabilities.newBuilder().setNic(5).build());
            assertFalse(noNic.getOk());
        } finally {
            taps.close();
        }
    }
}
