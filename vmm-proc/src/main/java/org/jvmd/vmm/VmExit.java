package org.jvmd.vmm;

/** Why a VM ended, as reported to vmd (proto Termination) and by the dev entry point. */
public record VmExit(Kind kind, String reason) {
    public enum Kind {
        /** The guest powered off (ACPI S5, or KVM's system event). */
        POWEROFF,
        /** The guest reset (triple fault, i8042 or PCI reset control): vmd restarts it. */
        REBOOT,
        /** Stopped on request. */
        STOPPED,
        /** A fault in the VMM or an exit it cannot handle. */
        ERROR,
    }

    public static VmExit poweroff(String reason) {
        return new VmExit(Kind.POWEROFF, reason);
    }

    public static VmExit reboot(String reason) {
        return new VmExit(Kind.REBOOT, reason);
    }

    public static VmExit stopped(String reason) {
        return new VmExit(Kind.STOPPED, reason);
    }

    public static VmExit error(String reason) {
        return new VmExit(Kind.ERROR, reason);
    }

    @Override
    public String toString() {
        return kind.name().toLowerCase(java.util.Locale.ROOT) + ": " + reason;
    }
}
