package org.jvmd.vmm.blk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvmd.proto.DiskConfig;
import org.jvmd.proto.DiskFormat;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.FdSlot;
import org.jvmd.proto.StartVm;
import org.jvmd.proto.ToVmm;
import org.jvmd.proto.VmConfig;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.ipc.Channel;
import org.jvmd.sys.ipc.Received;

/** How vmm-proc finds each disk's image descriptors in vmd's StartVm (FD_DISK index/layer). */
class VmDisksTest {
    @TempDir
    Path dir;

    private Fd file(String name) throws Exception {
        Path p = dir.resolve(name);
        Files.createFile(p);
        return LibC.open(p.toString(), LibC.O_RDONLY);
    }

    private static String name(Fd fd) throws IOException {
        return Files.readSymbolicLink(fd.procPath()).getFileName().toString();
    }

    /** Sends a StartVm for {@code disks} carrying {@code slots} (one file each), and receives it. */
    private Received<ToVmm> startVm(List<DiskConfig> disks, List<FdSlot> slots) throws Exception {
        Channel[] ch = Channel.pair();
        List<Fd> fds = new ArrayList<>();
        for (FdSlot s : slots) {
            fds.add(file("d" + s.getIndex() + "l" + s.getLayer() + "-" + fds.size()));
        }
        ch[0].send(ToVmm.newBuilder().setStart(StartVm.newBuilder().setConfig(VmConfig.newBuilder()
                .addAllDisks(disks))).addAllFds(slots).build(), fds);
        Received<ToVmm> r = ch[1].receive(ToVmm.parser(), 5_000);
        ch[0].close();
        ch[1].close();
        return r;
    }

    private static FdSlot disk(int index, int layer) {
        return FdSlot.newBuilder().setRole(FdRole.FD_DISK).setIndex(index).setLayer(layer).build();
    }

    @Test
    void everyDiskGetsItsOwnImageThenItsBasesWhateverTheOrderOfTheSlots() throws Exception {
        List<DiskConfig> disks = List.of(DiskConfig.getDefaultInstance(),
                DiskConfig.newBuilder().addBaseFormats(DiskFormat.FORMAT_RAW).build());
        try (Received<ToVmm> r = startVm(disks, List.of(disk(1, 1), disk(0, 0), disk(1, 0)))) {
            List<List<Fd>> images = VmDisks.takeImages(r, r.message().getStart().getConfig().getDisksList());
            assertEquals(2, images.size());
            assertEquals("d0l0-1", name(images.get(0).get(0)));
            assertEquals(List.of("d1l0-2", "d1l1-0"), List.of(name(images.get(1).get(0)), name(images.get(1).get(1))));
            images.forEach(Fd::closeAll);
        }
    }

    @Test
    void aMissingLayerIsAnErrorNamingItAndNothingStaysOpen() throws Exception {
        List<DiskConfig> disks = List.of(DiskConfig.getDefaultInstance(),
                DiskConfig.newBuilder().addBaseFormats(DiskFormat.FORMAT_QCOW2).build());
        try (Received<ToVmm> r = startVm(disks, List.of(disk(0, 0), disk(1, 0)))) {
            List<FdSlot> slots = r.slots();
            IOException e = assertThrows(IOException.class,
                    () -> VmDisks.takeImages(r, r.message().getStart().getConfig().getDisksList()));
            assertEquals("no FD_DISK for disk 1 layer 1", e.getMessage());
            for (int i = 0; i < slots.size(); i++) {
                int at = i;
                // taken and closed by takeImages: a second take finds nothing
                assertThrows(IllegalStateException.class, () -> r.take(at));
            }
            assertFalse(Files.list(Path.of("/proc/self/fd")).anyMatch(p -> {
                try {
                    return Files.readSymbolicLink(p).startsWith(dir);
                } catch (IOException x) {
                    return false;
                }
            }), "an image descriptor stayed open");
        }
    }
}
