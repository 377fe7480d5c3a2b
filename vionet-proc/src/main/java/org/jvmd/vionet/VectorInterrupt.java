package org.jvmd.vionet;

/**
 * How the device core raises one MSI-X vector of the guest (the shell writes 1 to the
 * vector's irqfd). Not vmm-proc's {@code bus.Interrupts}, which drives lines and MSIs of the
 * whole VM.
 */
@FunctionalInterface
public interface VectorInterrupt {
    void signal(int vector);
}
