package org.jvmd.vmm.boot;

/**
 * The kernel, initrd, command line or memory size cannot make a bootable guest. The
 * message is meant for the operator as is ("kernel: not a bzImage (no HdrS magic)").
 */
public final class BootException extends Exception {
    private static final long serialVersionUID = 1L;

    public BootException(String message) {
        super(message);
    }
}
