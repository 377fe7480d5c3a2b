package org.jvmd.vmd;

/** A VM's state in vmd's registry, as {@code vmctl status} shows it. */
public enum VmState {
    /** Not running. */
    STOPPED("stopped"),
    /** Queued by staggered start. */
    WAITING("waiting"),
    /** Its vmm-proc is being set up. */
    STARTING("starting"),
    RUNNING("running"),
    PAUSED("paused"),
    /** A stop was requested; the VM has not terminated yet. */
    STOPPING("stopping");

    /** The word vmctl prints. */
    public final String word;

    VmState(String word) {
        this.word = word;
    }

    /** Whether a vmm-proc exists for the VM (vmctl's "running": it has a pid). */
    public boolean hasProcess() {
        return this == RUNNING || this == PAUSED || this == STOPPING;
    }

    public org.jvmd.proto.VmState toProto() {
        return switch (this) {
            case STOPPED -> org.jvmd.proto.VmState.STOPPED;
            case WAITING -> org.jvmd.proto.VmState.WAITING;
            case STARTING -> org.jvmd.proto.VmState.STARTING;
            case RUNNING -> org.jvmd.proto.VmState.RUNNING;
            case PAUSED -> org.jvmd.proto.VmState.PAUSED;
            case STOPPING -> org.jvmd.proto.VmState.STOPPING;
        };
    }
}
