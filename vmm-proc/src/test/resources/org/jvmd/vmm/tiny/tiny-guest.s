# The tiny guest of TinyGuest.java (32-bit protected mode, flat segments, no paging).
# Its bytes live in TinyGuest.CODE_TEXT, one string per instruction; after a change:
#   as --32 -o g.o tiny-guest.s && objdump -d -M intel --insn-width=16 g.o
# and paste the bytes back (labels become "name:" entries).
.intel_syntax noprefix
.code32
.set REPORT, 0x500
.set DONE, 0x504
.set BAR, 0xD0000000
.set DESC, 0x10000
.set AVAIL, 0x11000
.set USED, 0x12000
.set BUF, 0x13000
.set VARS, 0x14000
.set COMMON, VARS+0
.set NOTIFY, VARS+4
.set NOTIFYMUL, VARS+8
.set MSIXTAB, VARS+12
.set MSIXCAP, VARS+16
.org 0
start:
  or dword ptr [0xfee000f0], 0x100
  mov ebx, 0x80000000
scan:
  mov eax, ebx
  mov dx, 0xcf8
  out dx, eax
  mov dx, 0xcfc
  in eax, dx
  cmp ax, 0x1af4
  je found
  add ebx, 0x800
  cmp ebx, 0x80010000
  jne scan
  mov al, 0xe1
  jmp fail
found:
  mov dx, REPORT
  out dx, eax
  mov ecx, 0x10
  call cfgsel
  mov eax, BAR
  out dx, eax
  mov ecx, 0x14
  call cfgsel
  xor eax, eax
  out dx, eax
  mov ecx, 0x04
  call cfgsel
  mov ax, 0x0006
  out dx, ax
  mov ecx, 0x34
  call cfgsel
  in al, dx
  movzx esi, al
capnext:
  test esi, esi
  jz capsdone
  mov ecx, esi
  call cfgsel
  in al, dx
  cmp al, 0x11
  jne notmsix
  mov [MSIXCAP], esi
  lea ecx, [esi+4]
  call cfgsel
  in eax, dx
  and eax, 0xfffffff8
  mov [MSIXTAB], eax
  jmp advance
notmsix:
  cmp al, 0x09
  jne advance
  lea ecx, [esi+3]
  call cfgsel
  in al, dx
  movzx edi, al
  lea ecx, [esi+8]
  call cfgsel
  in eax, dx
  cmp edi, 1
  jne notcommon
  mov [COMMON], eax
notcommon:
  cmp edi, 2
  jne advance
  mov [NOTIFY], eax
  lea ecx, [esi+16]
  call cfgsel
  in eax, dx
  mov [NOTIFYMUL], eax
advance:
  lea ecx, [esi+1]
  call cfgsel
  in al, dx
  movzx esi, al
  jmp capnext
capsdone:
  mov dx, REPORT
  mov eax, [COMMON]
  out dx, eax
  mov eax, [NOTIFY]
  out dx, eax
  mov eax, [MSIXTAB]
  out dx, eax
  mov edi, [COMMON]
  add edi, BAR
  mov byte ptr [edi+0x14], 0
  mov byte ptr [edi+0x14], 1
  mov byte ptr [edi+0x14], 3
  mov dword ptr [edi+0x00], 1
  mov eax, [edi+0x04]
  out dx, eax
  mov dword ptr [edi+0x08], 1
  mov dword ptr [edi+0x0c], 1
  mov dword ptr [edi+0x08], 0
  mov dword ptr [edi+0x0c], 0
  mov byte ptr [edi+0x14], 0x0b
  mov al, [edi+0x14]
  test al, 8
  jnz featok
  mov al, 0xe2
  jmp fail
featok:
  mov esi, [MSIXTAB]
  add esi, BAR
  mov dword ptr [esi+0], 0xfee00000
  mov dword ptr [esi+4], 0
  mov dword ptr [esi+8], 0x40
  mov dword ptr [esi+12], 0
  mov ecx, [MSIXCAP]
  add ecx, 2
  call cfgsel
  mov ax, 0x8000
  out dx, ax
  mov word ptr [edi+0x16], 0
  mov word ptr [edi+0x18], 16
  mov word ptr [edi+0x1a], 0
  cmp word ptr [edi+0x1a], 0
  je vecok
  mov al, 0xe3
  jmp fail
vecok:
  mov dword ptr [edi+0x20], DESC
  mov dword ptr [edi+0x24], 0
  mov dword ptr [edi+0x28], AVAIL
  mov dword ptr [edi+0x2c], 0
  mov dword ptr [edi+0x30], USED
  mov dword ptr [edi+0x34], 0
  movzx eax, word ptr [edi+0x1e]
  imul eax, [NOTIFYMUL]
  add eax, [NOTIFY]
  add eax, BAR
  mov ebp, eax
  mov word ptr [edi+0x1c], 1
  mov dword ptr [DESC+0], BUF
  mov dword ptr [DESC+4], 0
  mov dword ptr [DESC+8], 64
  mov word ptr [DESC+12], 2
  mov word ptr [DESC+14], 0
  mov word ptr [AVAIL+4], 0
  mov word ptr [AVAIL+0], 0
  mov word ptr [AVAIL+2], 1
  mov byte ptr [edi+0x14], 0x0f
  movzx eax, byte ptr [edi+0x14]
  mov dx, REPORT
  out dx, eax
  mov word ptr [ebp], 0
  sti
idle:
  hlt
  jmp idle
fail:
  mov dx, DONE
  out dx, al
failloop:
  jmp failloop
cfgsel:
  mov eax, ecx
  and eax, 0xfc
  or eax, ebx
  mov dx, 0xcf8
  out dx, eax
  mov edx, ecx
  and edx, 3
  add edx, 0xcfc
  ret
isr:
  mov dx, REPORT
  movzx eax, word ptr [USED+2]
  out dx, eax
  mov eax, [USED+8]
  out dx, eax
  mov dword ptr [0xfee000b0], 0
  mov dx, DONE
  mov al, 1
  out dx, al
  iret
spurious:
  mov dx, DONE
  mov al, 0xef
  out dx, al
  iret
