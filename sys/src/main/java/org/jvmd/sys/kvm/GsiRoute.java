package org.jvmd.sys.kvm;

/**
 * One entry of the VM's GSI routing table (struct kvm_irq_routing_entry, linux/kvm.h).
 * KVM_SET_GSI_ROUTING replaces the whole table, the default PIC/IOAPIC routes included.
 */
public sealed interface GsiRoute permits GsiRoute.Irqchip, GsiRoute.Msi {
    int gsi();

    /** KVM_IRQCHIP_PIC_MASTER, KVM_IRQCHIP_PIC_SLAVE, KVM_IRQCHIP_IOAPIC (linux/kvm.h). */
    int PIC_MASTER = 0;
    int PIC_SLAVE = 1;
    int IOAPIC = 2;

    /** KVM_IRQ_ROUTING_IRQCHIP: the GSI drives {@code pin} of an in-kernel interrupt controller. */
    record Irqchip(int gsi, int irqchip, int pin) implements GsiRoute {
        public Irqchip {
            if (irqchip < PIC_MASTER || irqchip > IOAPIC || pin < 0 || pin > (irqchip == IOAPIC ? 23 : 7)) {
                throw new IllegalArgumentException("bad irqchip route: chip " + irqchip + " pin " + pin);
            }
        }
    }

    /** KVM_IRQ_ROUTING_MSI: the GSI sends the message {@code data} to {@code address} (PCI 3.0 §6.8). */
    record Msi(int gsi, long address, int data) implements GsiRoute {
    }
}
