package org.jvmd.vmm.proxy;

import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.jvmd.vmm.bus.Bus;
import org.jvmd.vmm.devices.RecordingInterrupts;
import org.jvmd.vmm.pci.PciBarMapper;
import org.jvmd.vmm.pci.VirtioPciDriver;
import org.jvmd.vmm.pci.VirtioPciTransport;

/**
 * A proxy behind a real {@link VirtioPciTransport} whose BAR 0 is on an MMIO bus, probed by
 * the virtio-pci driver model: the guest side of proxy tests.
 */
public record PluggedProxy(RecordingInterrupts irqs, VirtioPciTransport transport, VirtioPciDriver driver, Bus mmio) {
    public static final long BAR = 0xC000_0000L;
    /** The transport puts the device configuration on BAR 0's third page. */
    public static final long DEVICE_CFG = BAR + 0x2000;

    public static PluggedProxy plug(DeviceProxy<?> proxy) {
        RecordingInterrupts irqs = new RecordingInterrupts();
        VirtioPciTransport transport = new VirtioPciTransport(proxy, irqs);
        proxy.bind(transport);
        Bus mmio = new Bus("mmio");
        transport.addBarListener(new PciBarMapper(mmio));
        transport.setBarAddress(VirtioPciTransport.BAR, BAR);
        return new PluggedProxy(irqs, transport, new VirtioPciDriver(transport, mmio).probe(), mmio);
    }

    /** Waits until {@code condition} holds, at most {@code ms}. */
    public static void await(BooleanSupplier condition, String what, long ms) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(5);
        }
    }

    /** True once the MSI of {@code vector} (as the driver model programs it) was raised. */
    public boolean raised(int vector) {
        synchronized (irqs) {
            return irqs.msis.contains(new RecordingInterrupts.Msi(VirtioPciDriver.MSI_ADDRESS, 0x40 + vector));
        }
    }
}
