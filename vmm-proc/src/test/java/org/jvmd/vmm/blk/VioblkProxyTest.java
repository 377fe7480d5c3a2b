package org.jvmd.vmm.blk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvmd.proto.DiskConfig;
import org.jvmd.proto.DiskFormat;
import org.jvmd.proto.DiskStats;
import org.jvmd.proto.Error;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.FdSlot;
import org.jvmd.proto.FromVioblk;
import org.jvmd.proto.MemoryRegion;
import org.jvmd.proto.Paused;
import org.jvmd.proto.QueueReady;
import org.jvmd.proto.StatsReply;
import org.jvmd.proto.ToVioblk;
import org.jvmd.proto.VioblkReady;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.ipc.Channel;
import org.jvmd.virtio.Virtq;
import org.jvmd.virtio.blk.VirtioBlk;
import org.jvmd.vmm.pci.VirtioPciDriver;
import org.jvmd.vmm.pci.VirtioPciTransport;
import org.jvmd.vmm.proxy.PluggedProxy;

/**
 * The disk proxy's relay over a real {@link Channel}, against {@link VioblkPeer} (the vioblk
 * end of the contract, in-process): what it hands over at init, the configuration space and
 * features the guest sees, which messages the transport's events become, stats, pause, and
 * what vioblk's death does to the device. The guest side is the virtio-pci driver model.
 */
class VioblkProxyTest {
    static final long T = 5_000;
    static final long VERSION_1 = 1L << 32;
    static final long DEVICE_CFG = PluggedProxy.DEVICE_CFG;
    static final List<MemoryRegion> REGIONS = List.of(
            MemoryRegion.newBuilder().setGuestPhys(0).setSize(2 << 20).setMemfdOffset(0).build());

    private final List<AutoCloseable> closing = new ArrayList<>();
    private final BlockingQueue<VioblkProxy> deaths = new LinkedBlockingQueue<>();
    private VioblkPeer peer;
    private VioblkProxy proxy;
    private PluggedProxy plugged;
    private VirtioPciDriver driver;

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
    }

    static DiskConfig disk(boolean readOnly, DiskFormat... bases) {
        return DiskConfig.newBuilder().setIndex(3).setPath("/var/vm/web.img").setFormat(DiskFormat.FORMAT_RAW)
                .setReadOnly(readOnly).setSerial("web-3").addAllBaseFormats(List.of(bases)).build();
    }

    @TempDir
    Path dir;

    /** An image file named {@code name}, to tell the layers apart at the peer's end. */
    Fd image(String name) throws Exception {
        Path p = dir.resolve(name);
        Files.createFile(p);
        return LibC.open(p.toString(), LibC.O_RDWR);
    }

    private ToVioblk start(DiskConfig disk, VioblkReady ready, Fd... layers) throws Exception {
        Channel[] ch = Channel.pair();
        peer = new VioblkPeer(ch[1], ready);
        closing.add(peer);
        proxy = new VioblkProxy("vm/test/vioblk3", disk, deaths::add);
        closing.add(proxy);
        proxy.start(ch[0], null, LibC.memfdCreate("test-ram", 0), List.of(layers), REGIONS, "nobody", "/var/empty", T);
        return peer.next(ToVioblk.MsgCase.INIT, T);
    }

    private ToVioblk start(DiskConfig disk) throws Exception {
        return start(disk, VioblkPeer.READY, image("own"));
    }

    private void plug() {
        plugged = PluggedProxy.plug(proxy);
        driver = plugged.driver();
    }

    private static FdSlot slot(FdRole role, int index, int layer) {
        return FdSlot.newBuilder().setRole(role).setIndex(index).setLayer(layer).build();
    }

    /** The name of the file behind {@code fd}. */
    private static String fileName(Fd fd) throws Exception {
        return Files.readSymbolicLink(fd.procPath()).getFileName().toString();
    }

    @Test
    void initHandsOverMemfdEveryImageLayerTheKickAndACallPerVector() throws Exception {
        DiskConfig disk = disk(false, DiskFormat.FORMAT_QCOW2, DiskFormat.FORMAT_RAW);
        ToVioblk init = start(disk, VioblkPeer.READY, image("own"), image("base1"), image("base2"));

        assertEquals(disk, init.getInit().getDisk());
        assertEquals("vm/test/vioblk3", init.getInit().getTitle());
        assertEquals(REGIONS, init.getInit().getRegionsList());
        assertEquals("nobody", init.getInit().getUser());
        assertEquals("/var/empty", init.getInit().getChroot());
        List<FdSlot> want = List.of(slot(FdRole.FD_MEMFD, 0, 0), slot(FdRole.FD_DISK, 3, 0),
                slot(FdRole.FD_DISK, 3, 1), slot(FdRole.FD_DISK, 3, 2), slot(FdRole.FD_KICK, 0, 0),
                slot(FdRole.FD_CALL, 0, 0), slot(FdRole.FD_CALL, 1, 0));
        assertEquals(want, init.getFdsList());
        assertEquals(want, peer.slots());
        assertEquals("own", fileName(peer.fd(FdRole.FD_DISK, 3, 0)));
        assertEquals("base1", fileName(peer.fd(FdRole.FD_DISK, 3, 1)));
        assertEquals("base2", fileName(peer.fd(FdRole.FD_DISK, 3, 2)));
        assertEquals(1, proxy.queueCount());
        assertEquals(VirtioBlk.DEVICE_TYPE, proxy.deviceType());

        proxy.queueNotify(0); // a kick that reached the transport goes to the eventfd vioblk waits on
        assertEquals(1, EventFd.read(peer.fd(FdRole.FD_KICK, 0)));
        EventFd.signal(peer.fd(FdRole.FD_CALL, 1), 2); // vioblk's interrupt reaches the fd KVM would watch
        assertEquals(2, proxy.calls().get(1).read());
    }

    @Test
    void configurationSpaceShowsVioblksGeometry() throws Exception {
        start(disk(false));
        plug();
        assertEquals(VirtioBlk.CONFIG_SIZE, proxy.configSize());
        assertEquals(1L << 21, plugged.mmio().read(DEVICE_CFG + VirtioBlk.CONFIG_CAPACITY, 8));
        assertEquals(65536, plugged.mmio().read(DEVICE_CFG + VirtioBlk.CONFIG_SIZE_MAX, 4));
        assertEquals(126, plugged.mmio().read(DEVICE_CFG + VirtioBlk.CONFIG_SEG_MAX, 4));
        assertEquals(512, plugged.mmio().read(DEVICE_CFG + VirtioBlk.CONFIG_BLK_SIZE, 4));
        assertEquals(1, plugged.mmio().read(DEVICE_CFG + VirtioBlk.CONFIG_NUM_QUEUES, 2));
        assertEquals(65536, plugged.mmio().read(DEVICE_CFG + VirtioBlk.CONFIG_MAX_DISCARD_SECTORS, 4));
        assertEquals(1, plugged.mmio().read(DEVICE_CFG + VirtioBlk.CONFIG_MAX_DISCARD_SEG, 4));
        assertEquals(32768, plugged.mmio().read(DEVICE_CFG + VirtioBlk.CONFIG_MAX_WRITE_ZEROES_SECTORS, 4));
        assertEquals(1, plugged.mmio().read(DEVICE_CFG + VirtioBlk.CONFIG_WRITE_ZEROES_MAY_UNMAP, 1));
        plugged.mmio().write(DEVICE_CFG, 4, 0);
        assertEquals(1L << 21, plugged.mmio().read(DEVICE_CFG, 8), "the configuration space is read-only");
        assertEquals(1, proxy.configWrites());
    }

    @Test
    void offersVirtioBlkFeaturesWithVersion1AndTheRingFeatures() throws Exception {
        start(disk(false));
        plug();
        long want = VirtioBlk.offeredFeatures(false) | VERSION_1 | 1L << Virtq.F_INDIRECT_DESC | 1L << Virtq.F_EVENT_IDX;
        assertEquals(want, proxy.deviceFeatures());
        assertEquals(want, driver.deviceFeatures());
        assertTrue(driver.negotiate(want));
    }

    @Test
    void aReadOnlyDiskOffersRoAndNeitherDiscardNorWriteZeroes() throws Exception {
        for (boolean configured : new boolean[] {true, false}) {
            // read-only by the configuration, or because vioblk found the image read-only
            start(disk(configured), VioblkPeer.READY.toBuilder().setReadOnly(!configured).build(), image("own-" + configured));
            plug();
            long f = driver.deviceFeatures();
            assertTrue((f & 1L << VirtioBlk.F_RO) != 0);
            assertEquals(0, f & (1L << VirtioBlk.F_DISCARD | 1L << VirtioBlk.F_WRITE_ZEROES));
            assertEquals(0, plugged.mmio().read(DEVICE_CFG + VirtioBlk.CONFIG_MAX_DISCARD_SECTORS, 4));
            assertEquals(0, plugged.mmio().read(DEVICE_CFG + VirtioBlk.CONFIG_MAX_WRITE_ZEROES_SECTORS, 4));
            tearDown();
            closing.clear();
        }
    }

    @Test
    void transportEventsReachVioblkInOrder() throws Exception {
        start(disk(false));
        plug();
        long features = VERSION_1 | 1L << VirtioBlk.F_FLUSH | 1L << Virtq.F_EVENT_IDX;
        assertTrue(driver.negotiate(features));
        peer.next(ToVioblk.MsgCase.RESET, T); // negotiate starts from a reset
        assertEquals(features, peer.next(ToVioblk.MsgCase.FEATURES_ACKED, T).getFeaturesAcked().getFeatures());
        driver.enableMsix(2);
        driver.setupQueue(VirtioBlk.REQUEST_QUEUE, 128, 0x10000, 0x11000, 0x12000, 1);
        assertEquals(QueueReady.newBuilder().setQueue(0).setSize(128).setDesc(0x10000).setDriver(0x11000)
                .setDevice(0x12000).setMsixVector(1).build(), peer.next(ToVioblk.MsgCase.QUEUE_READY, T).getQueueReady());
        driver.setStatus(driver.status() | VirtioPciTransport.STATUS_DRIVER_OK);
        peer.next(ToVioblk.MsgCase.DRIVER_OK, T);
        driver.setStatus(0);
        peer.next(ToVioblk.MsgCase.RESET, T);
        assertEquals(0, driver.status());
        assertTrue(peer.nothingPending());
    }

    @Test
    void statsAreAskedOfVioblkAndCarryTheDiskIndex() throws Exception {
        start(disk(false));
        StatsReply answer = StatsReply.newBuilder().addDisks(DiskStats.newBuilder().setReads(7).setWriteBytes(4096)
                .putErrors("sector_past_end", 2)).build();
        CompletableFuture<DiskStats> asked = CompletableFuture.supplyAsync(() -> {
            try {
                return proxy.diskStats(T);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        peer.next(ToVioblk.MsgCase.STATS, T);
        peer.send(FromVioblk.newBuilder().setStats(answer).build());
        assertEquals(answer.getDisks(0).toBuilder().setDisk(3).build(), asked.get(T, TimeUnit.MILLISECONDS));
    }

    @Test
    void vioblkDeathFlagsNeedsResetTellsTheListenerAndStatsShowDead() throws Exception {
        start(disk(false));
        plug();
        assertTrue(driver.negotiate(VERSION_1));
        driver.enableMsix(2);
        driver.write(0x10, 2, 0); // msix_config = vector 0 (virtio 1.2 §4.1.4.3)
        driver.setupQueue(VirtioBlk.REQUEST_QUEUE, 256, 0x10000, 0x11000, 0x12000, 1);
        driver.setStatus(driver.status() | VirtioPciTransport.STATUS_DRIVER_OK);

        peer.close(); // vioblk dies: its end of the channel closes

        assertEquals(proxy, deaths.poll(T, TimeUnit.MILLISECONDS));
        PluggedProxy.await(() -> (driver.status() & VirtioPciTransport.STATUS_NEEDS_RESET) != 0,
                "DEVICE_NEEDS_RESET", T);
        PluggedProxy.await(() -> plugged.raised(0), "the configuration-change MSI on vector 0", T);
        assertFalse(proxy.alive());
        assertEquals(DiskStats.newBuilder().setDisk(3).setDead(true).build(), proxy.diskStats(T));
        assertThrows(IOException.class, () -> proxy.stats(T));
        assertFalse(driver.negotiate(VERSION_1), "FEATURES_OK is refused while vioblk is gone");
        assertTrue(deaths.isEmpty());
    }

    @Test
    void closingTheProxyIsNoDeath() throws Exception {
        start(disk(false));
        proxy.close();
        assertTrue(peer.awaitEof(T));
        assertTrue(deaths.isEmpty(), "a shutdown is not reported as vioblk dying");
    }

    @Test
    void pauseWaitsForPausedAndUnpauseFollows() throws Exception {
        start(disk(false));
        CompletableFuture<Void> pause = CompletableFuture.runAsync(() -> {
            try {
                proxy.pause(T);
            } catch (TimeoutException e) {
                throw new IllegalStateException(e);
            }
        });
        peer.next(ToVioblk.MsgCase.PAUSE, T);
        assertFalse(pause.isDone(), "pause returned before vioblk confirmed it");
        peer.send(FromVioblk.newBuilder().setPaused(Paused.getDefaultInstance()).build());
        pause.get(T, TimeUnit.MILLISECONDS);
        proxy.unpause();
        peer.next(ToVioblk.MsgCase.UNPAUSE, T);
    }

    @Test
    void aSilentVioblkFailsThePause() throws Exception {
        start(disk(false));
        assertThrows(TimeoutException.class, () -> proxy.pause(50));
    }

    @Test
    void errorInsteadOfReadyFailsStart() throws Exception {
        Channel[] ch = Channel.pair();
        peer = new VioblkPeer(ch[1]);
        closing.add(peer);
        peer.answerInit = FromVioblk.newBuilder().setError(Error.newBuilder()
                .setMessage("pread(FD_DISK 0): EIO").setErrno(5)).build();
        proxy = new VioblkProxy("vm/test/vioblk3", disk(false), deaths::add);
        closing.add(proxy);
        IOException e = assertThrows(IOException.class, () -> proxy.start(ch[0], null, LibC.memfdCreate("r", 0),
                List.of(image("own")), REGIONS, "", "", T));
        assertEquals("vm/test/vioblk3: vioblk failed: pread(FD_DISK 0): EIO", e.getMessage());
    }
}
