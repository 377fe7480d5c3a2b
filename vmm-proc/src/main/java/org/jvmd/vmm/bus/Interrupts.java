package org.jvmd.vmm.bus;

/**
 * How a device model raises interrupts, implemented over KVM by the VMM core
 * (KVM_IRQ_LINE for the in-kernel IOAPIC/PIC, KVM_SIGNAL_MSI or irqfds for MSI) and by
 * a recorder in tests.
 */
public interface Interrupts {
    /** Drives a legacy interrupt line (GSI) to {@code level}. Edge devices pulse it. */
    void setIrqLine(int gsi, boolean level);

    /** Delivers one message-signalled interrupt (PCI 3.0 §6.8: address/data pair). */
    void signalMsi(long address, int data);
}
