package org.jvmd.vmm.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import com.google.protobuf.ByteString;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.jvmd.proto.Error;
import org.jvmd.proto.FdRole;
import org.jvmd.proto.FdSlot;
import org.jvmd.proto.FromVionet;
import org.jvmd.proto.MemoryRegion;
import org.jvmd.proto.NicConfig;
import org.jvmd.proto.NicStats;
import org.jvmd.proto.QueueReady;
import org.jvmd.proto.StatsReply;
import org.jvmd.proto.ToVionet;
import org.jvmd.proto.TunCapabilities;
import org.jvmd.proto.TunCapabilitiesReply;
import org.jvmd.sys.EventFd;
import org.jvmd.sys.Fd;
import org.jvmd.sys.LibC;
import org.jvmd.sys.ipc.Channel;
import org.jvmd.virtio.net.VirtioNetFeatures;
import org.jvmd.vmm.bus.Bus;
import org.jvmd.vmm.pci.QueueConfig;
import org.jvmd.vmm.pci.VirtioPciDriver;
import org.jvmd.vmm.pci.VirtioPciTransport;
import org.jvmd.vmm.proxy.PluggedProxy;

/**
 * The proxy's relay over a real {@link Channel}, against {@link VionetPeer} (the vionet end
 * of the contract, in-process): what it hands over at init, which messages the transport's
 * events become, the TUNSCAP and stats relays, and what vionet's death does to the device.
 * The guest side is the virtio-pci driver model on a real {@link VirtioPciTransport}.
 */
class VionetProxyTest {
    static final long T = 5_000;
    static final byte[] MAC = {(byte) 0xfe, (byte) 0xe1, (byte) 0xba, (byte) 0xd0, 0, 7};
    static final long DEVICE_CFG = PluggedProxy.DEVICE_CFG;
    static final long VERSION_1 = 1L << VirtioNetFeatures.VERSION_1;
    static final List<MemoryRegion> REGIONS = List.of(
            MemoryRegion.newBuilder().setGuestPhys(0).setSize(2 << 20).setMemfdOffset(0).build());

    private final List<AutoCloseable> closing = new ArrayList<>();
    private final BlockingQueue<TunCapabilities> uplink = new LinkedBlockingQueue<>();
    private VionetPeer peer;
    private VionetProxy proxy;
    private PluggedProxy plugged;
    private VirtioPciDriver driver;
    private Bus mmio;

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
    }

    static NicConfig nic(long features) {
        return NicConfig.newBuilder().setIndex(2).setMac(ByteString.copyFrom(MAC)).setMtu(9000).setFeatures(features)
                .setTapName("vm1-if2").build();
    }

    /** Starts a proxy against a fresh peer; the "tap" is /dev/null (the proxy only forwards it). */
    private ToVionet start(long features) throws Exception {
        Channel[] ch = Channel.pair();
        peer = new VionetPeer(ch[1]);
        closing.add(peer);
        proxy = new VionetProxy("vm/test/vionet2", nic(features), uplink::add);
        closing.add(proxy);
        Fd memfd = LibC.memfdCreate("test-ram", 0);
        proxy.start(ch[0], null, memfd, LibC.open("/dev/null", LibC.O_RDWR), REGIONS, "nobody", "/var/empty", T);
        return peer.next(ToVionet.MsgCase.INIT, T);
    }

    /** Puts the proxy behind a transport whose BAR is on an MMIO bus, and probes it like a driver. */
    private void plug() {
        plugged = PluggedProxy.plug(proxy);
        driver = plugged.driver();
        mmio = plugged.mmio();
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        PluggedProxy.await(condition, what, T);
    }

    @Test
    void initHandsOverMemfdTapAndAnEventfdPerQueueAndVector() throws Exception {
        long features = VirtioNetFeatures.bit(VirtioNetFeatures.CTRL_VQ) | VirtioNetFeatures.bit(VirtioNetFeatures.MAC);
        ToVionet init = start(features);

        assertEquals(nic(features), init.getInit().getNic());
        assertEquals("vm/test/vionet2", init.getInit().getTitle());
        assertEquals(REGIONS, init.getInit().getRegionsList());
        assertEquals("nobody", init.getInit().getUser());
        assertEquals("/var/empty", init.getInit().getChroot());
        List<FdSlot> want = new ArrayList<>();
        want.add(slot(FdRole.FD_MEMFD, 0));
        want.add(slot(FdRole.FD_TAP, 0));
        for (int q = 0; q < 3; q++) {
            want.add(slot(FdRole.FD_KICK, q)); // rx, tx, ctrl
        }
        for (int v = 0; v < 4; v++) {
            want.add(slot(FdRole.FD_CALL, v)); // one per queue + configuration
        }
        assertEquals(want, init.getFdsList());
        assertEquals(want, peer.slots());
        assertEquals(3, proxy.queueCount());

        proxy.queueNotify(1); // a kick that reached the transport goes to the same eventfd vionet waits on
        assertEquals(1, EventFd.read(peer.fd(FdRole.FD_KICK, 1)));
        assertEquals(0, EventFd.read(peer.fd(FdRole.FD_KICK, 0)));
        EventFd.signal(peer.fd(FdRole.FD_CALL, 3), 2); // vionet's interrupt reaches the fd KVM would watch
        assertEquals(2, proxy.calls().get(3).read());
    }

    private static FdSlot slot(FdRole role, int index) {
        return FdSlot.newBuilder().setRole(role).setIndex(index).build();
    }

    @Test
    void twoQueuesWithoutCtrlVqAndNeverMq() throws Exception {
        start(VirtioNetFeatures.bit(VirtioNetFeatures.MQ) | VirtioNetFeatures.bit(VirtioNetFeatures.CSUM));
        assertEquals(2, proxy.queueCount());
        assertEquals(VERSION_1 | VirtioNetFeatures.bit(VirtioNetFeatures.CSUM), proxy.deviceFeatures());
        assertEquals(VionetProxy.DEVICE_TYPE, proxy.deviceType());
    }

    @Test
    void transportEventsReachVionetInOrder() throws Exception {
        long features = VirtioNetFeatures.bit(VirtioNetFeatures.CSUM) | VirtioNetFeatures.bit(VirtioNetFeatures.MAC);
        start(features);
        plug();

        assertTrue(driver.negotiate(VERSION_1 | features));
        peer.next(ToVionet.MsgCase.RESET, T); // negotiate starts from a reset
        assertEquals(VERSION_1 | features, peer.next(ToVionet.MsgCase.FEATURES_ACKED, T).getFeaturesAcked().getFeatures());
        driver.enableMsix(3);
        driver.setupQueue(VionetProxy.RX, 256, 0x10000, 0x11000, 0x12000, 1);
        driver.setupQueue(VionetProxy.TX, 128, 0x20000, 0x21000, 0x22000, 2);
        assertEquals(QueueReady.newBuilder().setQueue(0).setSize(256).setDesc(0x10000).setDriver(0x11000)
                .setDevice(0x12000).setMsixVector(1).build(), peer.next(ToVionet.MsgCase.QUEUE_READY, T).getQueueReady());
        assertEquals(QueueReady.newBuilder().setQueue(1).setSize(128).setDesc(0x20000).setDriver(0x21000)
                .setDevice(0x22000).setMsixVector(2).build(), peer.next(ToVionet.MsgCase.QUEUE_READY, T).getQueueReady());
        driver.setStatus(driver.status() | VirtioPciTransport.STATUS_DRIVER_OK);
        peer.next(ToVionet.MsgCase.DRIVER_OK, T);
        driver.setStatus(0);
        peer.next(ToVionet.MsgCase.RESET, T);
        assertEquals(0, driver.status());
        assertTrue(peer.nothingPending());
    }

    /**
     * The proxy is a {@link org.jvmd.vmm.pci.VirtioDevice} like an in-process device: its
     * life-cycle methods themselves forward to vionet, with no transport and no listener
     * in between (before issue 13 its activate and reset were empty).
     */
    @Test
    void lifeCycleCallsOnTheDeviceReachVionetWithoutATransport() throws Exception {
        long csum = VirtioNetFeatures.bit(VirtioNetFeatures.CSUM);
        start(csum);

        assertTrue(proxy.acceptFeatures(VERSION_1 | csum));
        assertEquals(VERSION_1 | csum, peer.next(ToVionet.MsgCase.FEATURES_ACKED, T).getFeaturesAcked().getFeatures());
        proxy.queueEnabled(new QueueConfig(VionetProxy.TX, 64, 0x1000, 0x2000, 0x3000, 2, 0));
        assertEquals(QueueReady.newBuilder().setQueue(1).setSize(64).setDesc(0x1000).setDriver(0x2000)
                .setDevice(0x3000).setMsixVector(2).build(), peer.next(ToVionet.MsgCase.QUEUE_READY, T).getQueueReady());
        proxy.activate(VERSION_1 | csum, List.of(), null);
        peer.next(ToVionet.MsgCase.DRIVER_OK, T);
        peer.answerReset = false;
        CompletableFuture<Void> reset = CompletableFuture.runAsync(proxy::reset);
        peer.next(ToVionet.MsgCase.RESET, T);
        assertFalse(reset.isDone(), "reset returned before vionet confirmed it");
        peer.send(FromVionet.newBuilder().setResetDone(org.jvmd.proto.ResetDone.getDefaultInstance()).build());
        reset.get(VionetProxy.RESET_TIMEOUT_MS / 2, TimeUnit.MILLISECONDS);
        assertTrue(peer.nothingPending());
    }

    /** vmctl pause and log verbose reach vionet through the proxy; pause waits for its Paused. */
    @Test
    void pauseWaitsForVionetAndLogLevelReachesIt() throws Exception {
        start(0);
        proxy.setVerbose(true);
        assertTrue(peer.next(ToVionet.MsgCase.LOG, T).getLog().getVerbose());
        CompletableFuture<Void> pause = CompletableFuture.runAsync(() -> {
            try {
                proxy.pause(5_000);
            } catch (java.util.concurrent.TimeoutException e) {
                throw new IllegalStateException(e);
            }
        });
        peer.next(ToVionet.MsgCase.PAUSE, T);
        assertFalse(pause.isDone(), "pause returned before vionet confirmed it");
        peer.send(FromVionet.newBuilder().setPaused(org.jvmd.proto.Paused.getDefaultInstance()).build());
        pause.get(T, TimeUnit.MILLISECONDS);
        proxy.unpause();
        peer.next(ToVionet.MsgCase.UNPAUSE, T);
    }

    @Test
    void aFeatureSetTheDeviceRefusesIsNotSentToVionet() throws Exception {
        long offered = VirtioNetFeatures.bit(VirtioNetFeatures.GUEST_CSUM) | VirtioNetFeatures.bit(VirtioNetFeatures.GUEST_TSO4);
        start(offered);
        assertFalse(proxy.acceptFeatures(VERSION_1 | VirtioNetFeatures.bit(VirtioNetFeatures.GUEST_TSO4)));
        assertTrue(proxy.acceptFeatures(VERSION_1 | offered));
        assertEquals(VERSION_1 | offered, peer.next(ToVionet.MsgCase.FEATURES_ACKED, T).getFeaturesAcked().getFeatures(),
                "only the accepted set reaches vionet");
    }

    @Test
    void driverResetWaitsForVionetsResetDone() throws Exception {
        start(0);
        plug();
        peer.answerReset = false;
        CompletableFuture<Void> reset = CompletableFuture.runAsync(() -> driver.setStatus(0));
        peer.next(ToVionet.MsgCase.RESET, T);
        assertFalse(reset.isDone(), "the driver's reset returned before vionet confirmed it");
        peer.send(FromVionet.newBuilder().setResetDone(org.jvmd.proto.ResetDone.getDefaultInstance()).build());
        reset.get(VionetProxy.RESET_TIMEOUT_MS / 2, TimeUnit.MILLISECONDS);
    }

    @Test
    void tunCapabilitiesGoUpAndTheReplyComesDown() throws Exception {
        start(VirtioNetFeatures.bit(VirtioNetFeatures.GUEST_CSUM));
        TunCapabilities caps = TunCapabilities.newBuilder().setNic(2).setTunFlags(1).build();
        peer.send(FromVionet.newBuilder().setTuncap(caps).build());
        assertEquals(caps, uplink.poll(T, TimeUnit.MILLISECONDS));

        TunCapabilitiesReply reply = TunCapabilitiesReply.newBuilder().setNic(2).setOk(true).setAppliedFlags(1).build();
        proxy.tuncapReply(reply);
        assertEquals(reply, peer.next(ToVionet.MsgCase.TUNCAP_REPLY, T).getTuncapReply());
    }

    @Test
    void statsAreAskedOfVionetAndItsReplyReturned() throws Exception {
        start(0);
        StatsReply answer = StatsReply.newBuilder().addNics(NicStats.newBuilder().setNic(2).setTxFrames(42)
                .putDrops("gso_size_zero", 3)).build();
        CompletableFuture<StatsReply> asked = CompletableFuture.supplyAsync(() -> {
            try {
                return proxy.stats(T);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        peer.next(ToVionet.MsgCase.STATS, T);
        peer.send(FromVionet.newBuilder().setStats(answer).build());
        assertEquals(answer, asked.get(T, TimeUnit.MILLISECONDS));
    }

    @Test
    void vionetDeathFlagsNeedsResetAndTheDeviceRefusesToStartAgain() throws Exception {
        start(0);
        plug();
        assertTrue(driver.negotiate(VERSION_1));
        driver.enableMsix(3);
        driver.write(0x10, 2, 0); // msix_config = vector 0 (virtio 1.2 §4.1.4.3)
        driver.setupQueue(VionetProxy.RX, 256, 0x10000, 0x11000, 0x12000, 1);
        driver.setStatus(driver.status() | VirtioPciTransport.STATUS_DRIVER_OK);
        peer.next(ToVionet.MsgCase.RESET, T);
        peer.next(ToVionet.MsgCase.FEATURES_ACKED, T);
        peer.next(ToVionet.MsgCase.QUEUE_READY, T);
        peer.next(ToVionet.MsgCase.DRIVER_OK, T);

        peer.close(); // vionet dies: its end of the channel closes

        await(() -> (driver.status() & VirtioPciTransport.STATUS_NEEDS_RESET) != 0, "DEVICE_NEEDS_RESET");
        assertFalse(proxy.alive());
        await(() -> plugged.raised(0), "the configuration-change MSI on vector 0");
        assertThrows(IOException.class, () -> proxy.stats(T));
        // vmctl stats shows it dead rather than leaving it out (issue 11)
        assertEquals(org.jvmd.proto.NicStats.newBuilder().setNic(0).setDead(true).build(),
                VmNics.stats(List.of(proxy), T).getNics(0));
        assertFalse(driver.negotiate(VERSION_1), "FEATURES_OK is refused while vionet is gone");
    }

    @Test
    void featureSetsBreakingDependenciesAreRefused() throws Exception {
        long offered = VirtioNetFeatures.bit(VirtioNetFeatures.GUEST_CSUM) | VirtioNetFeatures.bit(VirtioNetFeatures.GUEST_TSO4);
        start(offered);
        plug();
        assertFalse(driver.negotiate(VERSION_1 | VirtioNetFeatures.bit(VirtioNetFeatures.GUEST_TSO4)),
                "GUEST_TSO4 without GUEST_CSUM (virtio 1.2 §5.1.3.1)");
        assertTrue(driver.negotiate(VERSION_1 | offered));
    }

    @Test
    void configurationSpaceAnswersMacLinkUpOnePairAndMtu() throws Exception {
        start(VirtioNetFeatures.bit(VirtioNetFeatures.MAC) | VirtioNetFeatures.bit(VirtioNetFeatures.MTU));
        plug();
        assertEquals(NetConfigSpace.SIZE, proxy.configSize());
        for (int i = 0; i < 6; i++) {
            assertEquals(MAC[i] & 0xff, mmio.read(DEVICE_CFG + i, 1));
        }
        assertEquals(NetConfigSpace.S_LINK_UP, mmio.read(DEVICE_CFG + 6, 2));
        assertEquals(1, mmio.read(DEVICE_CFG + 8, 2));
        assertEquals(9000, mmio.read(DEVICE_CFG + 10, 2));
        mmio.write(DEVICE_CFG, 4, 0);
        assertEquals(MAC[0] & 0xff, mmio.read(DEVICE_CFG, 1), "the configuration space is read-only");
        assertEquals(1, proxy.configWrites());
    }

    @Test
    void errorInsteadOfReadyFailsStart() throws Exception {
        Channel[] ch = Channel.pair();
        peer = new VionetPeer(ch[1]);
        closing.add(peer);
        peer.answerInit = FromVionet.newBuilder().setError(Error.newBuilder().setMessage("mmap: ENOMEM").setErrno(12)).build();
        proxy = new VionetProxy("vm/test/vionet2", nic(0), uplink::add);
        closing.add(proxy);
        IOException e = assertThrows(IOException.class, () -> proxy.start(ch[0], null, LibC.memfdCreate("r", 0),
                LibC.open("/dev/null", LibC.O_RDWR), REGIONS, "", "", T));
        assertTrue(e.getMessage().contains("vionet failed: mmap: ENOMEM"), e.getMessage());
    }
}
