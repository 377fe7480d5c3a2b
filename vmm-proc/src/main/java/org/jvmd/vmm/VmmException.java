package org.jvmd.vmm;

/** The VM cannot be built on this host (missing KVM capability, too many vCPUs, ...); the message is for the operator. */
public final class VmmException extends Exception {
    private static final long serialVersionUID = 1L;

    public VmmException(String message) {
        super(message);
    }
}
