package org.jvmd.vionet;

/** Raises an MSI-X vector of the guest (the shell writes 1 to the vector's irqfd). */
@FunctionalInterface
public interface Interrupts {
    void signal(int vector);
}
