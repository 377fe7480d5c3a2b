package org.jvmd.vmd.config;

/**
 * What {@code allow instance} lets a non-root user set when creating an instance of a VM
 * (vmd's VMOP_CREATE_* instance flags). {@code vcpus} is jvmd's: vmd has no vcpus option.
 */
public enum InstanceFlag {
    /** boot, initrd and cmdline. */
    BOOT("boot"),
    MEMORY("memory"),
    VCPUS("vcpus"),
    INTERFACE("interface"),
    /** disk (vmctl start -d on an instance). */
    DISK("disk"),
    /** Parsed for vm.conf compatibility; jvmd has no cdrom yet. */
    CDROM("cdrom"),
    /** Instances may themselves be used as templates. */
    INSTANCE("instance");

    public final String word;

    InstanceFlag(String word) {
        this.word = word;
    }
}
