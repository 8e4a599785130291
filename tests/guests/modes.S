/*
 * tests/guests/modes.S: x86 operating modes. From the PVH entry (32-bit
 * protected mode) down to real mode through 16-bit protected mode, back up
 * to 32-bit protected mode, into long mode (compatibility, then 64-bit),
 * back to compatibility mode and out of long mode, printing CR0/CR4/EFER
 * and a CPUID value at each step. Real mode also checks the IVT (INT n and
 * IRET) and 16-bit addressing. Only engine-neutral values are printed.
 */
#include "lib32.inc"

#define BLOB 0x8000		/* the real-mode part runs here (copied) */
#define BLOB_SEG (BLOB >> 4)
#define SEL_CODE16 0x18
#define SEL_DATA16 0x20
#define SEL_CODE64 0x28
#define EFER 0xc0000080

/* Prints a literal string from 64-bit code. */
.macro PRINT64 str
	.pushsection .rodata.str, "a"
9998:	.asciz "\str"
	.popsection
	push %rsi
	mov $9998b, %esi
	call puts64
	pop %rsi
.endm

	.text
	.globl main
main:
	PRINT "protected mode: cr0="
	mov %cr0, %eax
	call puthex
	PRINT " cpuid.1.edx.pae="
	mov $1, %eax
	cpuid
	mov %edx, %eax
	shr $6, %eax
	and $1, %eax
	call puthex
	PRINT "\n"

	lgdt modes_gdt_desc
	mov %esp, saved_esp
	/* Copy the real-mode part below 1 MiB (string instructions are fine here). */
	mov $blob, %esi
	mov $BLOB, %edi
	mov $(blob_end - blob), %ecx
	cld
	rep movsb
	ljmp $SEL_CODE16, $BLOB

/* Back from real mode through a 32-bit far jump. */
pm_back:
	mov $SEL_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov saved_esp, %esp
	PRINT "protected mode again: cr0="
	mov %cr0, %eax
	call puthex
	PRINT "\n"

	/* Identity map the first 1 GiB with 2 MiB pages. */
	xor %ecx, %ecx
1:	mov %ecx, %eax
	shl $21, %eax
	or $0x83, %eax /* present, writable, 2 MiB */
	mov %eax, pd(, %ecx, 8)
	movl $0, pd + 4(, %ecx, 8)
	inc %ecx
	cmp $512, %ecx
	jb 1b
	movl $pd + 3, pdpt
	movl $pdpt + 3, pml4

	mov %cr4, %eax
	or $0x20, %eax /* PAE */
	mov %eax, %cr4
	mov $pml4, %eax
	mov %eax, %cr3
	mov $EFER, %ecx
	rdmsr
	or $0x100, %eax /* LME */
	wrmsr
	mov %cr0, %eax
	or $0x80000000, %eax
	mov %eax, %cr0
	PRINT "compatibility mode: efer="
	mov $EFER, %ecx
	rdmsr
	call puthex
	PRINT " cpuid.80000001.edx.lm="
	mov $0x80000001, %eax
	cpuid
	mov %edx, %eax
	shr $29, %eax
	and $1, %eax
	call puthex
	PRINT "\n"
	ljmp $SEL_CODE64, $lm64

	.code64
lm64:
	PRINT64 "64-bit mode: cr4="
	mov %cr4, %rax
	call puthex64_64
	PRINT64 " cr3="
	mov %cr3, %rax
	call puthex64_64
	/* A 64-bit only operation: the upper half of a register survives. */
	mov $0x123456789, %rax
	shl $4, %rax
	PRINT64 " rax="
	call puthex64_64
	PRINT64 "\n"
	ljmpl *compat_ptr(%rip)

	.code32
compat_again:
	PRINT "compatibility mode again\n"
	mov %cr0, %eax
	and $0x7fffffff, %eax
	mov %eax, %cr0
	PRINT "paging off: efer="
	mov $EFER, %ecx
	rdmsr
	call puthex
	PRINT " cr0="
	mov %cr0, %eax
	call puthex
	PRINT "\n"
	jmp acpi_poweroff

	.code64
/* puts64: writes the NUL-terminated string at %rsi to COM1. */
puts64:
	push %rax
	push %rdx
	push %rsi
1:	mov (%rsi), %al
	test %al, %al
	jz 2f
	mov $COM1, %dx
	out %al, %dx
	inc %rsi
	jmp 1b
2:	pop %rsi
	pop %rdx
	pop %rax
	ret

/* puthex64_64: writes %rax in hex without leading zeros. */
puthex64_64:
	push %rax
	push %rcx
	push %rdx
	push %rbx
	mov %rax, %rbx
	mov $16, %ecx
1:	cmp $1, %ecx
	je 2f
	mov %rbx, %rax
	shr $60, %rax
	jnz 2f
	shl $4, %rbx
	dec %ecx
	jmp 1b
2:	mov %rbx, %rax
	shr $60, %rax
	add $'0', %al
	cmp $'9', %al
	jbe 3f
	add $'a' - '0' - 10, %al
3:	mov $COM1, %dx
	out %al, %dx
	shl $4, %rbx
	dec %ecx
	jnz 2b
	pop %rbx
	pop %rdx
	pop %rcx
	pop %rax
	ret
	.code32

/*
 * The real-mode part, copied to BLOB and entered in 16-bit protected mode
 * at CS:IP = SEL_CODE16:BLOB. Offsets inside it are relative to blob.
 */
	.code16
blob:
	mov $SEL_DATA16, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %cr0, %eax
	and $0xfffffffe, %eax
	mov %eax, %cr0
	ljmp $BLOB_SEG, $(rm_entry - blob)
rm_entry:
	mov %cs, %ax
	mov %ax, %ds
	mov %ax, %ss
	mov $0x1000, %sp
	xor %ax, %ax
	mov %ax, %es
	lidt (rm_idt_desc - blob)

	mov $(rm_msg_mode - blob), %si
	call rm_puts
	mov %cr0, %eax
	call rm_puthex16
	mov $(rm_msg_cs - blob), %si
	call rm_puts
	mov %cs, %ax
	call rm_puthex16
	mov $(rm_msg_nl - blob), %si
	call rm_puts

	/* INT 0x40 through the IVT (ES = 0 addresses it). */
	movw $(rm_int40 - blob), %es:0x100
	movw $BLOB_SEG, %es:0x102
	mov $0x1234, %dx
	int $0x40
	cmp $0x4321, %dx
	jne 1f
	mov $(rm_msg_iret - blob), %si
	call rm_puts

	/* 16-bit addressing: [bx+si+disp8] and [bp+di] (SS-based). */
1:	mov $(rm_table - blob), %bx
	mov $2, %si
	mov 2(%bx, %si), %ax
	mov $(rm_table - blob), %bp
	mov $6, %di
	add (%bp, %di), %ax
	mov $(rm_msg_addr - blob), %si
	call rm_puts
	call rm_puthex16
	mov $(rm_msg_nl - blob), %si
	call rm_puts

	/* Back to protected mode with a 32-bit far jump. */
	cli
	lgdtl (rm_gdt_desc - blob)
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $SEL_CODE, $pm_back

rm_int40:
	push %si
	mov $(rm_msg_int - blob), %si
	call rm_puts
	pop %si
	mov $0x4321, %dx
	iret

rm_puts:
	push %ax
	push %si
1:	mov (%si), %al
	test %al, %al
	jz 2f
	call rm_putc
	inc %si
	jmp 1b
2:	pop %si
	pop %ax
	ret

rm_putc:
	push %dx
	mov $COM1, %dx
	out %al, %dx
	pop %dx
	ret

/* rm_puthex16: writes %ax as four hex digits. */
rm_puthex16:
	push %ax
	push %bx
	push %cx
	mov %ax, %bx
	mov $4, %cx
1:	mov %bx, %ax
	shr $12, %ax
	add $'0', %al
	cmp $'9', %al
	jbe 2f
	add $'a' - '0' - 10, %al
2:	call rm_putc
	shl $4, %bx
	dec %cx
	jnz 1b
	pop %cx
	pop %bx
	pop %ax
	ret

rm_idt_desc:
	.word 0x3ff
	.long 0
rm_gdt_desc:
	.word modes_gdt_end - modes_gdt - 1
	.long modes_gdt
rm_table:
	.word 0x1000, 0x2000, 0x0300, 0x0040, 0x0005
rm_msg_mode:
	.asciz "real mode: cr0="
rm_msg_cs:
	.asciz " cs="
rm_msg_nl:
	.asciz "\n"
rm_msg_int:
	.asciz "real mode: int 40 handler\n"
rm_msg_iret:
	.asciz "real mode: iret back\n"
rm_msg_addr:
	.asciz "real mode: 16-bit addressing "
blob_end:
	.code32

	.section .rodata, "a"
	.balign 8
modes_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff /* 0x08: flat 32-bit code */
	.quad 0x00cf92000000ffff /* 0x10: flat data */
	.quad 0x00009a000000ffff /* 0x18: 16-bit code, 64 KiB */
	.quad 0x000092000000ffff /* 0x20: 16-bit data, 64 KiB */
	.quad 0x00af9a000000ffff /* 0x28: 64-bit code */
modes_gdt_end:
modes_gdt_desc:
	.word modes_gdt_end - modes_gdt - 1
	.long modes_gdt
compat_ptr:
	.long compat_again
	.word SEL_CODE

	.bss
	.balign 4096
pml4:
	.skip 4096
pdpt:
	.skip 4096
pd:
	.skip 4096
saved_esp:
	.long 0
