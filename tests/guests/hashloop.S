/*
 * tests/guests/hashloop.S: the integer+SSE2 hash benchmark guest for bench/
 * (soft engine against QEMU TCG and against the same loop as a host
 * process, bench/hashloop_host.S). Enters long mode from the PVH entry,
 * runs HASH_LOOP (hashloop.inc), prints the checksum and resets.
 */
#include "lib32.inc"
#include "hashloop.inc"

#define SEL64_CODE 0x08
#define SEL64_DATA 0x10

	.text
	.globl main
main:
	/* Identity map the first 1 GiB with 2 MiB pages. */
	mov $pdpt, %eax
	or $3, %eax
	mov %eax, pml4
	mov $pd, %eax
	or $3, %eax
	mov %eax, pdpt
	xor %ecx, %ecx
1:	mov %ecx, %eax
	shl $21, %eax
	or $0x83, %eax /* P RW PS */
	mov %eax, pd(,%ecx,8)
	inc %ecx
	cmp $512, %ecx
	jne 1b

	mov %cr4, %eax
	or $((1 << 5) | (1 << 9) | (1 << 10)), %eax /* PAE OSFXSR OSXMMEXCPT */
	mov %eax, %cr4
	mov $pml4, %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx
	rdmsr
	or $(1 << 8), %eax /* LME */
	wrmsr
	mov %cr0, %eax
	and $~(1 << 2), %eax /* EM off */
	or $((1 << 31) | (1 << 1)), %eax /* PG MP */
	mov %eax, %cr0
	lgdt gdt64_desc
	ljmp $SEL64_CODE, $long_entry

	.code64
long_entry:
	mov $SEL64_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	lea stack64_top(%rip), %rsp

	HASH_LOOP
	mov %rax, %r8
	lea msg(%rip), %rsi
	call puts64
	mov %r8, %rax
	call puthex64_16
	mov $'\n', %al
	call putc64
	/* Reset through the i8042; where there is none (QEMU microvm), fault. */
	mov $0xfe, %al
	out %al, $0x64
	lidt idt_null(%rip)
	ud2

/* Writes AL to COM1 once the transmitter is empty. */
putc64:
	push %rdx
	push %rax
	mov $(COM1 + 5), %dx
1:	in %dx, %al
	test $0x20, %al
	jz 1b
	pop %rax
	mov $COM1, %dx
	out %al, %dx
	pop %rdx
	ret

puts64:
	push %rax
1:	mov (%rsi), %al
	test %al, %al
	jz 2f
	call putc64
	inc %rsi
	jmp 1b
2:	pop %rax
	ret

/* Prints RAX as 16 hex digits. */
puthex64_16:
	push %rcx
	push %rdx
	mov %rax, %rdx
	mov $16, %ecx
1:	rol $4, %rdx
	mov %edx, %eax
	and $0xf, %eax
	cmp $10, %eax
	jb 2f
	add $('a' - '0' - 10), %eax
2:	add $'0', %eax
	call putc64
	dec %ecx
	jnz 1b
	pop %rdx
	pop %rcx
	ret

	.section .rodata
	.balign 8
msg:	.asciz "hashloop: "
	.balign 8
gdt64:
	.quad 0
	.quad 0x00af9a000000ffff /* 64-bit code */
	.quad 0x00cf92000000ffff /* data */
gdt64_end:
gdt64_desc:
	.word gdt64_end - gdt64 - 1
	.long gdt64, 0
idt_null:
	.word 0
	.quad 0

	.bss
	.balign 4096
pml4:	.space 4096
pdpt:	.space 4096
pd:	.space 4096
	.space 4096
stack64_top:
