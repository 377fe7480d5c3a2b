# EchoGuest's 64-bit entry code (see EchoGuest.java for what it does).
# as --64 echo-guest.s -o x.o && objcopy -O binary -j .text x.o x.bin
.intel_syntax noprefix
.code64
start:
    mov al, 0xff               # OCW1: mask every 8259 input
    out 0x21, al
    out 0xa1, al
    lea rax, [rip + tick]
    mov edi, 0x13f0            # IDT at 0x1000: gates 0x3f (spurious) and 0x40 (timer)
    mov ecx, 2
gate:
    mov word ptr [rdi], ax
    mov word ptr [rdi+2], 0x10
    mov word ptr [rdi+4], 0x8e00
    mov rdx, rax
    shr rdx, 16
    mov word ptr [rdi+6], dx
    shr rdx, 16
    mov dword ptr [rdi+8], edx
    add edi, 16
    loop gate
    mov word ptr [0x2000], 0x40f
    mov qword ptr [0x2002], 0x1000
    lidt [0x2000]              # limit 0x40f, base 0x1000
    mov ebx, 0xfee00000
    mov dword ptr [rbx+0xf0], 0x13f       # SVR: APIC on, spurious vector 0x3f
    mov dword ptr [rbx+0x3e0], 0xb        # timer divide by 1
    mov dword ptr [rbx+0x320], 0x20040    # LVT timer: periodic, vector 0x40
    mov dword ptr [rbx+0x380], 10000000   # 10 ms at 1 GHz
    mov dx, 0x602              # PM1_EN: PWRBTN_EN
    mov ax, 0x100
    out dx, ax
poll:
    mov dx, 0x600              # PM1_STS: PWRBTN_STS?
    in ax, dx
    test ax, 0x100
    jnz off
    mov dx, 0x3fd              # LSR: data ready?
    in al, dx
    test al, 1
    jz idle
    mov dx, 0x3f8              # RBR, then THR: echo
    in al, dx
    cmp al, 0x04               # ^D powers off
    je off
    out dx, al
    jmp poll
idle:
    mov dx, 0x3f9              # IER rewrite: vmm-proc flushes console output
    xor eax, eax
    out dx, al
    sti
    hlt
    cli
    jmp poll
off:
    mov dx, 0x604              # PM1_CNT: SLP_TYP 5 (S5) | SLP_EN
    mov ax, 0x3400
    out dx, ax
hang:
    cli
    hlt
    jmp hang
tick:
    mov dword ptr [rbx+0xb0], 0           # EOI
    iretq
