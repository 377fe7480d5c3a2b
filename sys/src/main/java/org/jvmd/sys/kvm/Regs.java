package org.jvmd.sys.kvm;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemorySegment;

/**
 * struct kvm_regs (linux/kvm.h, x86): the general-purpose registers, rip and rflags, as
 * eighteen u64 in this order. A plain mutable mirror of the C struct.
 */
public final class Regs {
    static final int BYTES = 144;

    public long rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
    public long r8, r9, r10, r11, r12, r13, r14, r15;
    public long rip, rflags;

    void decode(MemorySegment s) {
        long[] v = new long[18];
        for (int i = 0; i < 18; i++) {
            v[i] = s.get(JAVA_LONG, i * 8L);
        }
        rax = v[0]; rbx = v[1]; rcx = v[2]; rdx = v[3]; rsi = v[4]; rdi = v[5]; rsp = v[6]; rbp = v[7];
        r8 = v[8]; r9 = v[9]; r10 = v[10]; r11 = v[11]; r12 = v[12]; r13 = v[13]; r14 = v[14]; r15 = v[15];
        rip = v[16]; rflags = v[17];
    }

    void encode(MemorySegment s) {
        long[] v = {rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, rip, rflags};
        for (int i = 0; i < 18; i++) {
            s.set(JAVA_LONG, i * 8L, v[i]);
        }
    }

    @Override
    public String toString() {
        return String.format("rip=%x rflags=%x rax=%x rbx=%x rcx=%x rdx=%x rsi=%x rdi=%x rsp=%x rbp=%x",
                rip, rflags, rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp);
    }
}
