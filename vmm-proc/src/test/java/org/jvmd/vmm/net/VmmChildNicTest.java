package org.jvmd.vmm.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import com.google.protobuf.ByteString;
import org.junit.jupiter.api.Test;
import org.jvmd.testkit.NetNs;
import org.jvmd.testkit.NetnsTest;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.FdSlot;
import org.jvmd.proto.FromVmm;
import org.jvmd.proto.NicConfig;
import org.jvmd.proto.StartVm;
import org.jvmd.proto.StatsRequest;
import org.jvmd.proto.StopVm;
import org.jvmd.proto.Termination;
import org.jvmd.proto.ToVmm;
import org.jvmd.proto.VmConfig;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.ipc.Received;
import org.jvmd.sys.net.Netns;
import org.jvmd.sys.net.Tap;
import org.jvmd.sys.proc.Child;
import org.jvmd.sys.proc.Spawner;
import org.jvmd.sys.proc.WaitStatus;
import org.jvmd.testkit.RequiresKvm;
import org.jvmd.virtio.net.VirtioNetFeatures;
import org.jvmd.vmm.boot.SyntheticBzImage;

/**
 * vmm-proc as vmd starts it, with a NIC: StartVm carries the NIC's config and its tap (in a
 * network namespace this test creates); vmm-proc spawns the NIC's vionet-proc before it
 * answers Ready, answers vmd's stats request with vionet's counters, and ends it with the VM.
 * The guest is a synthetic bzImage whose entry halts.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class VmmChildNicTest {

    @TempDir
    Path dir;

    private static FdSlot slot(FdRole role) {
        return FdSlot.newBuilder().setRole(role).setIndex(0).build();
    }

    private static FromVmm next(Child c, FromVmm.MsgCase kind) throws IOException {
        while (true) {
            try (Received<FromVmm> r = c.channel().receive(FromVmm.parser(), 60_000)) {
                if (r.message().getMsgCase() == kind) {
                    return r.message();
                }
            }
        }
    }

    @Test
    @RequiresKvm
    @NetnsTest
    void vmmProcSpawnsTheNicsVionetAndRelaysStats(NetNs ns) throws Exception {
        Path kernel = dir.resolve("bzImage");
        Files.write(kernel, new SyntheticBzImage().initSize(8L << 20)
                .entryCode(new byte[] {(byte) 0xf4, (byte) 0xeb, (byte) 0xfd}).build()); // hlt; jmp hlt
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        try (Tap tap = Netns.call(ns.name(), () -> Tap.open("vmc0"));
             Child c = Spawner.role(org.jvmd.sys.proc.Role.VMM, "vm/nic").classpath(cp)
                     .jvmOptions("-XX:TieredStopAtLevel=1").output(dir.resolve("vmm.log")).spawn()) {
            NicConfig nic = NicConfig.newBuilder().setMac(ByteString.copyFrom(new byte[] {2, 0, 0, 0, 0x62, 2}))
                    .setMtu(1500).setFeatures(VirtioNetFeatures.bit(VirtioNetFeatures.MAC)).setTapName("vmc0").build();
            VmConfig config = VmConfig.newBuilder().setName("nic").setMemoryBytes(64L << 20).setVcpus(1)
                    .addNics(nic).setDeviceReadyTimeoutMs(System.getenv("KVM_LAB") != null ? 240_000 : 48_000).build();
            ToVmm start = ToVmm.newBuilder().setStart(StartVm.newBuilder().setConfig(config))
                    .addFds(slot(FdRole.FD_KVM)).addFds(slot(FdRole.FD_KERNEL)).addFds(slot(FdRole.FD_TAP)).build();
            Fd kvm = LibC.open("/dev/kvm", LibC.O_RDWR);
            Fd k = LibC.open(kernel.toString(), LibC.O_RDONLY);
            c.channel().send(start, kvm, k, tap.fd().dup());
            c.awaitReady(FromVmm.parser(), 120_000);

            c.channel().send(ToVmm.newBuilder().setStats(StatsRequest.getDefaultInstance()).build());
            FromVmm stats = next(c, FromVmm.MsgCase.STATS);
            assertEquals(1, stats.getStats().getNicsCount(), stats.toString());
            assertEquals(0, stats.getStats().getNics(0).getNic());

            c.channel().send(ToVmm.newBuilder().setStop(StopVm.newBuilder().setForce(true)).build());
            FromVmm end = next(c, FromVmm.MsgCase.TERMINATED);
            assertEquals(Termination.TERM_STOPPED, end.getTerminated().getHow());
            WaitStatus w = c.waitFor(30_000);
            assertNotNull(w, "vmm-proc did not exit");
            String log = Files.readString(dir.resolve("vmm.log"));
            assertTrue(log.contains("vm/nic/vionet0"), log); // vionet's lines (it inherits vmm-proc's output)
        }
    }
}
