package org.jvmd.sys.kvm;

/** struct kvm_msr_entry (linux/kvm.h): u32 index, u32 reserved, u64 data. */
public record MsrEntry(int index, long data) {
    static final int BYTES = 16;
}
