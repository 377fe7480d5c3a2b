package org.jvmd.sys;

/**
 * How long a thread polls for work before it goes to sleep: KVM's adaptive halt-polling rule
 * (Linux virt/kvm/kvm_main.c, kvm_vcpu_halt; Documentation/virt/kvm/halt-polling.rst),
 * applied to an event loop's waits. A sleeping thread that work wakes pays a wake-up, on a
 * virtual machine an inter-processor interrupt through the hypervisor; polling for the
 * next event instead pays the CPU it spins. The window follows the waits:
 * <ul>
 * <li>a wait the poll ended (work came inside the window) keeps it;</li>
 * <li>a wait longer than the window but at most {@code max} grows it (to {@link #GROW_START}
 * from zero, then doubling, capped at {@code max}): the next such wait is caught polling;</li>
 * <li>a wait longer than {@code max} (an idle device, or traffic too sparse to be worth a
 * spin) closes it, so an idle loop spins no more than once per wake-up and then sleeps.</li>
 * </ul>
 * A pure state machine on durations; {@link Epoll#waitPolling} is its shell. {@code max} 0
 * never polls.
 */
public final class PollWindow {
    /** The first window after a short wait, KVM's halt_poll_ns_grow_start. */
    public static final long GROW_START = 10_000;

    private final long max;
    private long nanos;
    private long polled;
    private long slept;

    /** {@code maxNanos}: the longest window; 0 turns polling off. */
    public PollWindow(long maxNanos) {
        if (maxNanos < 0) {
            throw new IllegalArgumentException("poll window below 0 ns: " + maxNanos);
        }
        this.max = maxNanos;
    }

    /** How long the next wait polls before it sleeps, in ns. */
    public long nanos() {
        return nanos;
    }

    /** The poll found work: the window was long enough. */
    public void polled() {
        polled++;
    }

    /** The wait slept; {@code waitedNanos} from its start (polling included) to the work. */
    public void slept(long waitedNanos) {
        slept++;
        if (waitedNanos > max) {
            nanos = 0;
        } else if (waitedNanos > nanos) {
            nanos = nanos == 0 ? Math.min(GROW_START, max) : Math.min(nanos * 2, max);
        }
    }

    /** Waits that polling ended. */
    public long pollHits() {
        return polled;
    }

    /** Waits that slept. */
    public long sleeps() {
        return slept;
    }
}
