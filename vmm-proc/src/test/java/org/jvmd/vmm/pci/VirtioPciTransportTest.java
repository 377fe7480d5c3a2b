package org.jvmd.vmm.pci;

import static org.jvmd.vmm.pci.VirtioPciTransport.STATUS_ACKNOWLEDGE;
import static org.jvmd.vmm.pci.VirtioPciTransport.STATUS_DRIVER;
import static org.jvmd.vmm.pci.VirtioPciTransport.STATUS_DRIVER_OK;
import static org.jvmd.vmm.pci.VirtioPciTransport.STATUS_FEATURES_OK;
import static org.jvmd.vmm.pci.VirtioPciTransport.STATUS_NEEDS_RESET;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.From;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;
import org.jvmd.vmm.bus.Bus;
import org.jvmd.vmm.devices.RecordingInterrupts;
import org.junit.jupiter.api.Test;

class VirtioPciTransportTest {
    static final long V1 = 1L << VirtioPciTransport.F_VERSION_1;

    final RecordingInterrupts irq = new RecordingInterrupts();
    final FakeVirtioDevice fake = new FakeVirtioDevice();
    final VirtioPciTransport dev = new VirtioPciTransport(fake, irq);
    final PciHost host = new PciHost(0xc000_0000L, 0x1000_0000L, () -> {});
    final Bus mmio = new Bus("mmio");
    final List<String> events = fake.events;
    final VirtioPciDriver drv;

    VirtioPciTransportTest() {
        dev.addBarListener(new PciBarMapper(mmio));
        host.attach(dev);
        drv = new VirtioPciDriver(dev, mmio).probe();
    }

    void bringUp() {
        drv.enableMsix(3);
        assertTrue(drv.negotiate(V1 | 1L << 28));
        drv.setupQueue(0, 256, 0x10000, 0x11000, 0x12000, 1);
        drv.setupQueue(1, 64, 0x20000, 0x21000, 0x22000, 2);
        drv.write(VirtioPciTransport.MSIX_CONFIG, 2, 0);
        drv.setStatus(drv.status() | STATUS_DRIVER_OK);
    }

    @Test
    void transportPresentsAModernVirtioIdentity() {
        assertEquals(0x1af4, dev.readConfig(PciDevice.VENDOR_ID, 2));
        assertEquals(0x1044, dev.readConfig(PciDevice.DEVICE_ID, 2), "0x1040 + entropy device 4");
        assertTrue(dev.readConfig(PciDevice.REVISION_ID, 1) >= 1);
        assertTrue(dev.readConfig(PciDevice.SUBSYSTEM_ID, 2) >= 0x40);
        assertEquals(0, dev.readConfig(PciDevice.INTERRUPT_PIN, 1), "MSI-X only, no INTx");
    }

    @Test
    void capabilitiesPointIntoTheBarAndFitIt() {
        for (int type = VirtioPciTransport.CAP_COMMON; type <= VirtioPciTransport.CAP_PCI_CFG; type++) {
            Integer cap = drv.capByType.get(type);
            assertNotNull(cap, "capability type " + type);
            assertEquals(0, drv.cfg8(cap + VirtioPciTransport.CAP_BAR));
            long off = drv.cfg32(cap + VirtioPciTransport.CAP_OFFSET);
            long len = drv.cfg32(cap + VirtioPciTransport.CAP_LENGTH);
            assertTrue(off + len <= dev.barSize(0));
        }
        assertEquals(VirtioPciTransport.NOTIFY_MULTIPLIER, drv.notifyMultiplier);
        assertEquals(VirtioPciTransport.COMMON_SIZE, drv.cfg32(drv.capByType.get(1) + VirtioPciTransport.CAP_LENGTH));
        assertEquals(2, dev.readConfig(drv.msixCap + 2, 2) & 0x7ff, "table size N-1 for 3 vectors");
        assertTrue(drv.msixTable > drv.bar && drv.msixPba > drv.msixTable);
    }

    @Test
    void commonConfigReportsQueuesAndMaxSizes() {
        assertEquals(2, drv.read(VirtioPciTransport.NUM_QUEUES, 2));
        drv.selectQueue(1);
        assertEquals(128, drv.read(VirtioPciTransport.Q_SIZE, 2));
        assertEquals(1, drv.read(VirtioPciTransport.Q_NOTIFY_OFF, 2));
        drv.selectQueue(7);
        assertEquals(0, drv.read(VirtioPciTransport.Q_SIZE, 2), "an unavailable queue reads size 0");
        assertEquals(FakeVirtioDevice.FEATURES, drv.deviceFeatures());
    }

    @Test
    void featureNegotiationAcceptsAnOfferedSubsetWithVersion1() {
        assertTrue(drv.negotiate(V1 | 1));
        assertEquals(V1 | 1, dev.driverFeatures());
        assertEquals(List.of("reset", "features 100000001"), events);
    }

    @Test
    void featuresOkRejectedWhenDriverAcksUnofferedBit() {
        assertFalse(drv.negotiate(V1 | 1L << 5));
        assertEquals(STATUS_ACKNOWLEDGE | STATUS_DRIVER, drv.status());
        assertFalse(events.stream().anyMatch(e -> e.startsWith("features")));
    }

    @Test
    void featuresOkRejectedWithoutVersion1() {
        assertFalse(drv.negotiate(1));
    }

    @Test
    void featuresOkRejectedWhenTheDeviceRefusesTheCombination() {
        fake.acceptAll = false;
        assertFalse(drv.negotiate(V1));
    }

    @Test
    void driverFeaturesAreFrozenOnceFeaturesOk() {
        assertTrue(drv.negotiate(V1));
        drv.writeDriverFeatures(V1 | 1);
        assertEquals(V1, dev.driverFeatures());
        assertTrue(dev.ignoredAccesses() > 0);
    }

    @Test
    void statusBitsCannotBeClearedExceptByReset() {
        assertTrue(drv.negotiate(V1));
        drv.setStatus(STATUS_ACKNOWLEDGE);
        assertEquals(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK, drv.status());
    }

    @Test
    void driverOkWithoutFeaturesOkIsRefused() {
        drv.setStatus(STATUS_ACKNOWLEDGE | STATUS_DRIVER);
        drv.setStatus(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_DRIVER_OK);
        assertEquals(0, drv.status() & STATUS_DRIVER_OK);
        assertTrue(fake.activations.isEmpty());
    }

    @Test
    void driverOkActivatesTheDeviceWithTheEnabledQueues() {
        bringUp();
        assertEquals(1, fake.activations.size());
        List<QueueConfig> qs = fake.activations.get(0);
        assertEquals(2, qs.size());
        QueueConfig q0 = qs.get(0);
        assertEquals(new QueueConfig(0, 256, 0x10000, 0x11000, 0x12000, 1, dev.notifyAddress(0)), q0);
        assertEquals(64, qs.get(1).size());
        assertEquals(V1 | 1L << 28, fake.activatedFeatures);
        assertEquals(List.of("reset", "features 110000000", "queue 0", "queue 1", "driver-ok"), events);
    }

    @Test
    void queueSizeAcceptsOnlyASmallerPowerOfTwo() {
        drv.selectQueue(0);
        drv.write(VirtioPciTransport.Q_SIZE, 2, 100);
        assertEquals(256, drv.read(VirtioPciTransport.Q_SIZE, 2));
        drv.write(VirtioPciTransport.Q_SIZE, 2, 512);
        assertEquals(256, drv.read(VirtioPciTransport.Q_SIZE, 2));
        drv.write(VirtioPciTransport.Q_SIZE, 2, 64);
        assertEquals(64, drv.read(VirtioPciTransport.Q_SIZE, 2));
    }

    @Test
    void queueIsFrozenOnceEnabled() {
        assertTrue(drv.negotiate(V1));
        drv.setupQueue(0, 128, 0x1000, 0x2000, 0x3000, 0);
        drv.selectQueue(0);
        drv.write(VirtioPciTransport.Q_SIZE, 2, 64);
        drv.writeTwoPart(VirtioPciTransport.Q_DESC, 0x9000);
        drv.write(VirtioPciTransport.Q_ENABLE, 2, 0);
        assertEquals(128, drv.read(VirtioPciTransport.Q_SIZE, 2));
        assertEquals(0x1000, drv.read(VirtioPciTransport.Q_DESC, 4));
        assertEquals(1, drv.read(VirtioPciTransport.Q_ENABLE, 2));
    }

    @Test
    void sixtyFourBitQueueAddressesTakeTwoHalvesOrOneQword() {
        drv.selectQueue(1);
        drv.writeTwoPart(VirtioPciTransport.Q_DRIVER, 0x1_2345_6780L);
        assertEquals(0x2345_6780L, drv.read(VirtioPciTransport.Q_DRIVER, 4));
        assertEquals(0x1, drv.read(VirtioPciTransport.Q_DRIVER + 4, 4));
        drv.write(VirtioPciTransport.Q_DEVICE, 8, 0xab_0000_1000L);
        assertEquals(0xab_0000_1000L, drv.read(VirtioPciTransport.Q_DEVICE, 8));
    }

    @Test
    void misalignedOrOddWidthWritesAreIgnoredAndCounted() {
        long before = dev.ignoredAccesses();
        drv.write(VirtioPciTransport.Q_SELECT, 4, 1); // a 16-bit field written as 32
        drv.write(VirtioPciTransport.DEVICE_STATUS + 1, 1, 0xff); // config_generation is read-only
        drv.write(VirtioPciTransport.NUM_QUEUES, 2, 9);
        assertEquals(before + 3, dev.ignoredAccesses());
        assertEquals(0, drv.read(VirtioPciTransport.Q_SELECT, 2));
        assertEquals(2, drv.read(VirtioPciTransport.NUM_QUEUES, 2));
    }

    @Test
    void writingZeroResetsDeviceAndQueues() {
        bringUp();
        drv.setStatus(0);
        assertEquals(0, drv.status());
        assertEquals(1 + 1, fake.resets, "one reset at negotiate, one now");
        drv.selectQueue(1);
        assertEquals(128, drv.read(VirtioPciTransport.Q_SIZE, 2));
        assertEquals(MsixTable.NO_VECTOR, drv.read(VirtioPciTransport.Q_MSIX, 2));
        assertEquals(0, drv.read(VirtioPciTransport.Q_ENABLE, 2));
        assertEquals(0, drv.read(VirtioPciTransport.Q_DESC, 4));
        assertEquals(MsixTable.NO_VECTOR, drv.read(VirtioPciTransport.MSIX_CONFIG, 2));
        assertEquals("reset", events.get(events.size() - 1));
        assertTrue(dev.msix().enabled(), "MSI-X is PCI state; a virtio reset leaves it");
    }

    /**
     * The device's reset runs outside the register lock (a proxy waits there for its
     * process): another vCPU still reads the registers meanwhile, and device_status reads 0
     * only once the device's reset returned (virtio 1.2 §4.1.4.3.2: the driver waits for 0).
     */
    @Test
    void aDeviceBlockedInResetStallsNoRegisterReadAndStatusReadsZeroAfterIt() throws Exception {
        bringUp();
        resetBlocksNoRead(() -> drv.setStatus(0));
    }

    /** The same for a reset written through the PCI configuration access window (§4.1.4.9). */
    @Test
    void aResetThroughThePciConfigurationWindowHoldsNoConfigurationLockEither() throws Exception {
        bringUp();
        int cap = drv.capByType.get(VirtioPciTransport.CAP_PCI_CFG);
        dev.writeConfig(cap + VirtioPciTransport.CAP_BAR, 1, 0);
        dev.writeConfig(cap + VirtioPciTransport.CAP_OFFSET, 4, VirtioPciTransport.DEVICE_STATUS);
        dev.writeConfig(cap + VirtioPciTransport.CAP_LENGTH, 4, 1);
        resetBlocksNoRead(() -> dev.writeConfig(cap + VirtioPciTransport.CAP_PCI_CFG_DATA, 4, 0));
    }

    /** Runs {@code resetWrite} on one thread, blocks the device in its reset, reads on another. */
    private void resetBlocksNoRead(Runnable resetWrite) throws Exception {
        CountDownLatch inReset = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        fake.onReset = () -> {
            inReset.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        // a thread each, as two vCPUs (the common pool may have a single worker)
        Executor vcpu = r -> Thread.ofPlatform().daemon().start(r);
        CompletableFuture<Void> writer = CompletableFuture.runAsync(resetWrite, vcpu);
        try {
            assertTrue(inReset.await(5, TimeUnit.SECONDS));
            int during = CompletableFuture.supplyAsync(drv::status, vcpu).get(5, TimeUnit.SECONDS);
            assertTrue((during & STATUS_DRIVER_OK) != 0, "still running while the device resets: " + during);
            long vendor = CompletableFuture.supplyAsync(() -> dev.readConfig(PciDevice.VENDOR_ID, 2), vcpu)
                    .get(5, TimeUnit.SECONDS);
            assertEquals(VirtioPciTransport.VENDOR, vendor);
        } finally {
            release.countDown();
        }
        writer.get(5, TimeUnit.SECONDS);
        assertEquals(0, drv.status());
        assertEquals("reset", events.get(events.size() - 1));
    }

    @Test
    void activationFaultSetsNeedsResetAndSignalsConfig() {
        fake.failActivation = true;
        drv.enableMsix(3);
        assertTrue(drv.negotiate(V1));
        drv.write(VirtioPciTransport.MSIX_CONFIG, 2, 0);
        drv.setupQueue(0, 256, 0x10000, 0x11000, 0x12000, 1);
        int gen = (int) drv.read(VirtioPciTransport.CONFIG_GENERATION, 1);
        drv.setStatus(drv.status() | STATUS_DRIVER_OK);
        assertEquals(STATUS_NEEDS_RESET, drv.status() & STATUS_NEEDS_RESET);
        assertEquals(gen + 1, drv.read(VirtioPciTransport.CONFIG_GENERATION, 1));
        assertEquals(List.of(new RecordingInterrupts.Msi(VirtioPciDriver.MSI_ADDRESS, 0x40)), irq.msis);
    }

    @Test
    void notifyWriteDispatchesToTheQueueHandler() {
        bringUp();
        assertEquals(dev.notifyAddress(1), drv.notifyAddress(1));
        assertEquals(dev.barAddress(0) + dev.notifyOffset(1), dev.notifyAddress(1));
        drv.kick(1);
        drv.kick(0);
        assertEquals(List.of(1, 0), fake.notified);
        assertEquals(2, dev.notifies());
    }

    @Test
    void notifyBeforeDriverOkIsIgnored() {
        drv.kick(0);
        assertTrue(fake.notified.isEmpty());
    }

    @Test
    void queueInterruptSendsItsVectorAndSetsIsr() {
        bringUp();
        fake.interrupt.signalQueue(1);
        assertEquals(List.of(new RecordingInterrupts.Msi(VirtioPciDriver.MSI_ADDRESS, 0x42)), irq.msis);
        assertEquals(1, drv.mmio.read(drv.isr, 1));
        assertEquals(0, drv.mmio.read(drv.isr, 1), "reading ISR clears it");
    }

    @Test
    void configChangeBumpsGenerationAndUsesTheConfigVector() {
        bringUp();
        long gen = drv.read(VirtioPciTransport.CONFIG_GENERATION, 1);
        fake.interrupt.signalConfig();
        assertEquals(gen + 1, drv.read(VirtioPciTransport.CONFIG_GENERATION, 1));
        assertEquals(new RecordingInterrupts.Msi(VirtioPciDriver.MSI_ADDRESS, 0x40), irq.msis.get(0));
        assertEquals(2, drv.mmio.read(drv.isr, 1));
    }

    @Test
    void msixMaskedVectorSetsPendingBit() {
        bringUp();
        long entry = drv.msixTable + 16 * 2;
        mmio.write(entry + 12, 4, 1); // mask vector 2 (queue 1)
        fake.interrupt.signalQueue(1);
        assertTrue(irq.msis.isEmpty());
        assertEquals(1L << 2, mmio.read(drv.msixPba, 8));
        mmio.write(entry + 12, 4, 0);
        assertEquals(List.of(new RecordingInterrupts.Msi(VirtioPciDriver.MSI_ADDRESS, 0x42)), irq.msis);
        assertEquals(0, mmio.read(drv.msixPba, 8), "delivery on unmask clears the pending bit");
    }

    @Test
    void msixFunctionMaskHoldsEveryVector() {
        bringUp();
        dev.writeConfig(drv.msixCap + 2, 2, 0xc000);
        fake.interrupt.signalQueue(0);
        fake.interrupt.signalQueue(1);
        assertTrue(irq.msis.isEmpty());
        assertEquals(0b110, mmio.read(drv.msixPba, 1));
        dev.writeConfig(drv.msixCap + 2, 2, 0x8000);
        assertEquals(2, irq.msis.size());
    }

    @Test
    void msixDisabledDeliversNothing() {
        assertTrue(drv.negotiate(V1));
        drv.setupQueue(0, 256, 0x10000, 0x11000, 0x12000, 1);
        drv.setStatus(drv.status() | STATUS_DRIVER_OK);
        fake.interrupt.signalQueue(0);
        assertTrue(irq.msis.isEmpty());
        assertEquals(1, drv.mmio.read(drv.isr, 1), "ISR still records it");
    }

    @Test
    void vectorTheTableLacksReadsBackAsNoVector() {
        drv.write(VirtioPciTransport.MSIX_CONFIG, 2, 3);
        assertEquals(MsixTable.NO_VECTOR, drv.read(VirtioPciTransport.MSIX_CONFIG, 2));
        drv.selectQueue(0);
        drv.write(VirtioPciTransport.Q_MSIX, 2, 2);
        assertEquals(2, drv.read(VirtioPciTransport.Q_MSIX, 2));
    }

    @Test
    void msixTableReservedControlBitsStayZero() {
        mmio.write(drv.msixTable + 12, 4, 0xffffffffL);
        assertEquals(1, mmio.read(drv.msixTable + 12, 4));
        mmio.write(drv.msixPba, 8, -1L);
        assertEquals(0, mmio.read(drv.msixPba, 8), "the PBA is read-only");
    }

    @Test
    void vectorListenersHearTableAndControlChanges() {
        List<Integer> changed = new ArrayList<>();
        dev.msix().addListener(changed::add);
        mmio.write(drv.msixTable + 16 + 8, 4, 0x55);
        assertEquals(List.of(1), changed);
        assertEquals(0x55, dev.msix().data(1));
        dev.writeConfig(drv.msixCap + 2, 2, 0x8000);
        assertEquals(List.of(1, 0, 1, 2), changed);
    }

    @Test
    void deviceConfigurationWindowReachesTheDevice() {
        assertEquals(0x04030201L, mmio.read(drv.deviceCfg, 4));
        mmio.write(drv.deviceCfg + 6, 2, 0xbeef);
        assertEquals(0xbeef, fake.readConfig(6, 2));
        assertEquals(0, mmio.read(drv.deviceCfg + 6, 4), "an access past the config reads 0");
    }

    @Test
    void pciConfigurationAccessCapabilityReachesTheBar() {
        int cap = drv.capByType.get(VirtioPciTransport.CAP_PCI_CFG);
        dev.writeConfig(cap + VirtioPciTransport.CAP_BAR, 1, 0);
        dev.writeConfig(cap + VirtioPciTransport.CAP_OFFSET, 4, VirtioPciTransport.DEVICE_STATUS);
        dev.writeConfig(cap + VirtioPciTransport.CAP_LENGTH, 4, 1);
        dev.writeConfig(cap + VirtioPciTransport.CAP_PCI_CFG_DATA, 4, STATUS_ACKNOWLEDGE);
        assertEquals(STATUS_ACKNOWLEDGE, dev.status());
        assertEquals(STATUS_ACKNOWLEDGE, dev.readConfig(cap + VirtioPciTransport.CAP_PCI_CFG_DATA, 1));
        dev.writeConfig(cap + VirtioPciTransport.CAP_OFFSET, 4, VirtioPciTransport.NUM_QUEUES);
        dev.writeConfig(cap + VirtioPciTransport.CAP_LENGTH, 4, 2);
        assertEquals(2, dev.readConfig(cap + VirtioPciTransport.CAP_PCI_CFG_DATA, 2));
    }

    @Test
    void barMoveMovesTheNotifyAddress() {
        long old = dev.notifyAddress(0);
        long newBar = dev.barAddress(0) + 0x100_0000L;
        dev.writeConfig(PciDevice.BAR0, 4, newBar & 0xffffffffL);
        assertEquals(newBar + dev.notifyOffset(0), dev.notifyAddress(0));
        assertFalse(mmio.claimed(old));
        assertTrue(mmio.claimed(dev.notifyAddress(0)));
    }

    // ---- properties ----

    record Access(int kind, long offset, int size, long value) {}

    @Provide
    Arbitrary<Access> accesses() {
        Arbitrary<Long> commonOffsets = Arbitraries.longs().between(0, 0x40);
        Arbitrary<Long> anyOffsets = Arbitraries.longs().between(0, 0x8000);
        return Combinators.combine(
                        Arbitraries.integers().between(0, 4),
                        Arbitraries.oneOf(commonOffsets, commonOffsets, anyOffsets),
                        Arbitraries.of(1, 2, 4, 8),
                        Arbitraries.oneOf(
                                Arbitraries.longs(),
                                Arbitraries.longs().between(0, 16),
                                Arbitraries.of(V1, V1 | 1, 0xfL, 0xffffL)))
                .as(Access::new);
    }

    @Property(tries = 400)
    void arbitraryRegisterAccessesNeverBreakTheStateMachine(@ForAll @Size(max = 120) List<@From("accesses") Access> ops) {
        RecordingInterrupts irq = new RecordingInterrupts();
        FakeVirtioDevice fake = new FakeVirtioDevice();
        VirtioPciTransport t = new VirtioPciTransport(fake, irq);
        for (Access a : ops) {
            switch (a.kind) {
                case 0, 1 -> t.barWrite(a.offset, a.size, a.value);
                case 2 -> t.barRead(a.offset, a.size);
                case 3 -> t.writeConfig((int) (a.offset & 0xff), Math.min(a.size, 4), a.value);
                default -> {
                    if (fake.interrupt != null) {
                        fake.interrupt.signalQueue((int) (a.value & 3));
                    }
                }
            }
            int status = t.status();
            if ((status & STATUS_FEATURES_OK) != 0) {
                long f = t.driverFeatures();
                assertEquals(0, f & ~FakeVirtioDevice.FEATURES, "acked only offered features");
                assertEquals(V1, f & V1);
            }
            if ((status & STATUS_DRIVER_OK) != 0 && (status & STATUS_NEEDS_RESET) == 0) {
                assertEquals(STATUS_FEATURES_OK, status & STATUS_FEATURES_OK);
            }
            for (int q = 0; q < 2; q++) {
                QueueConfig c = t.queue(q);
                assertEquals(1, Integer.bitCount(c.size()));
                assertTrue(c.size() <= fake.maxQueueSize(q));
                assertTrue(c.msixVector() < 3 || c.msixVector() == MsixTable.NO_VECTOR);
            }
            assertTrue(fake.activations.size() <= fake.resets + 1, "one activation per reset cycle");
        }
    }
}
