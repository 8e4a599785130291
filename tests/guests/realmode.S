/*
 * tests/guests/realmode.S: what kvm-unit-tests' realmode test needs of kite,
 * from a multiboot guest loaded at 32 KiB as that test is. First the state a
 * PC BIOS leaves, which kite gives multiboot kernels: both PICs at vectors
 * 08h/70h with only the timer and the cascade unmasked, the PIT's channel 0
 * in mode 3, an IVT into the BIOS segment. Then, in real mode with the IVT
 * as IDT: a software INT to a vector no device owns comes back, and
 * STI; HLT wakes on the timer twice (the second proves that the BIOS's
 * handler acknowledged the first), leaving nothing in service. Then the
 * legacy instructions that test checks beyond what the other guests do:
 * DAS's borrow, and SALC (D6), which the SDM leaves out but processors run.
 */
#define MULTIBOOT_GUEST
#include "lib32.inc"

#define SEL_CODE16 0x18
#define SEL_DATA16 0x20

	.text
	.globl main
main:
	PRINT "pic imr: "
	in $0x21, %al
	movzbl %al, %eax
	call puthex
	PRINT " "
	in $0xa1, %al
	movzbl %al, %eax
	call puthex
	/* Read-back command: channel 0's status only. */
	PRINT "\npit ch0 status: "
	mov $0xe2, %al
	out %al, $0x43
	in $0x40, %al
	and $0x3f, %eax /* access and mode; the output and null-count bits vary */
	call puthex
	PRINT "\nivt 08 70 1c: "
	mov 0x08 * 4, %eax
	call puthex
	PRINT " "
	mov 0x70 * 4, %eax
	call puthex
	PRINT " "
	mov 0x1c * 4, %eax
	call puthex
	PRINT "\n"

	/* Down to real mode through 16-bit protected mode; all of it below 64 KiB. */
	mov %esp, saved_esp
	lgdt rm_gdt_desc
	ljmp $SEL_CODE16, $pm16

	.code16
pm16:
	mov $SEL_DATA16, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %cr0, %eax
	and $0xfffffffe, %eax
	mov %eax, %cr0
	ljmp $0, $rm
rm:
	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $rm_stack_top, %sp
	lidt rm_idt_desc
	int $0x1c
	movb $1, int_back
	sti
	hlt
	incb wakes
	hlt
	incb wakes
	cli
	mov $0x0b, %al /* OCW3: read the ISR */
	out %al, $0x20
	in $0x20, %al
	mov %al, isr
	/* DAS of 0 with AF set: AL - 6 borrows, which CF keeps (AL 0xfa, flags 0x97). */
	mov $0x1000, %ax /* AH: AF for SAHF; AL: 0 */
	sahf
	das
	lahf
	mov %ax, das_ax
	/* SALC: AL = CF ? 0xff : 0 (without it, #UD's dummy IRET loops forever). */
	mov $0x12, %al
	stc
	.byte 0xd6
	mov %al, salc_cf
	clc
	.byte 0xd6
	mov %al, salc_nc
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $SEL_CODE, $pm32

	.code32
pm32:
	mov $SEL_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov saved_esp, %esp
	PRINT "real mode: int 1c back "
	movzbl int_back, %eax
	call puthex
	PRINT ", timer wakeups "
	movzbl wakes, %eax
	call puthex
	PRINT ", isr "
	movzbl isr, %eax
	call puthex
	PRINT "\nreal mode: das 0 with AF: flags:al "
	movzwl das_ax, %eax
	call puthex
	PRINT "\nreal mode: salc with CF, without: "
	movzbl salc_cf, %eax
	call puthex
	PRINT " "
	movzbl salc_nc, %eax
	call puthex
	PRINT "\n"
	jmp acpi_poweroff

	.section .rodata, "a"
	.balign 8
rm_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff /* 0x08: flat 32-bit code (lib32's SEL_CODE) */
	.quad 0x00cf92000000ffff /* 0x10: flat data (SEL_DATA) */
	.quad 0x00009a000000ffff /* 0x18: 16-bit code, 64 KiB */
	.quad 0x000092000000ffff /* 0x20: 16-bit data, 64 KiB */
rm_gdt_end:
rm_gdt_desc:
	.word rm_gdt_end - rm_gdt - 1
	.long rm_gdt
rm_idt_desc:
	.word 0x3ff
	.long 0

	.bss
saved_esp:
	.long 0
int_back:
	.byte 0
wakes:
	.byte 0
isr:
	.byte 0
salc_cf:
	.byte 0
salc_nc:
	.byte 0
	.balign 2
das_ax:
	.word 0
	.balign 16
	.skip 1024
rm_stack_top:
