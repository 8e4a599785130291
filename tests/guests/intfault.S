/*
 * tests/guests/intfault.S: a fault while delivering INT n is the INT's own:
 * the gate's code segment is not present, so #NP(selector) is raised with
 * the saved EIP at the INT instruction. The handler repairs the gate and
 * returns, the INT runs again and reaches its handler.
 */
#include "lib32.inc"

#define SEL_ABSENT 0x18
#define VECTOR 0x40

	.text
	.globl main
main:
	lgdt gdt2_desc
	mov $idt, %edi
	mov $exc_handler, %eax
	mov %eax, %edx
	call idt_fill32
	mov $11, %ecx /* #NP */
	mov $np_handler, %eax
	call idt_gate32
	mov $VECTOR, %ecx
	mov $int_handler, %eax
	call idt_gate32
	movw $SEL_ABSENT, idt + VECTOR * 8 + 2
	lidt idt_desc

	PRINT "int 0x40 through an absent code segment\n"
int_insn:
	int $VECTOR
	PRINT "back after the int\n"
	jmp acpi_poweroff

np_handler:
	PRINT "#NP error "
	mov (%esp), %eax
	call puthex
	PRINT ", at "
	mov 4(%esp), %eax
	cmp $int_insn, %eax
	jne 1f
	PRINT "the int\n"
	jmp 2f
1:	call puthex
	PRINT "\n"
2:	movw $SEL_CODE, idt + VECTOR * 8 + 2
	add $4, %esp /* the error code */
	iret

int_handler:
	PRINT "int 0x40 handler\n"
	iret

exc_handler:
	PRINT "unexpected exception\n"
	jmp acpi_poweroff

	.section .rodata, "a"
	.balign 8
gdt2:
	.quad 0
	.quad 0x00cf9a000000ffff /* 0x08: flat 32-bit code */
	.quad 0x00cf92000000ffff /* 0x10: flat data */
	.quad 0x00cf1a000000ffff /* 0x18: the same code, not present */
gdt2_end:
gdt2_desc:
	.word gdt2_end - gdt2 - 1
	.long gdt2

	IDT32
