/*
 * tests/guests/divide.S: #DE delivery through a 32-bit interrupt gate, for a
 * division by zero and for a quotient that does not fit. The handler checks
 * the saved EIP points at the faulting DIV, prints, and resumes at the next
 * step instead of returning.
 */
#include "lib32.inc"

	.text
	.globl main
main:
	mov %esp, saved_esp
	call idt_fill
	lidt idt_desc

	PRINT "dividing by zero\n"
	movl $div1, expect_eip
	movl $step2, resume
	mov $1, %eax
	xor %edx, %edx
	xor %ecx, %ecx
div1:	div %ecx
	PRINT "not reached\n"
step2:
	PRINT "dividing 2^32 by 1\n"
	movl $div2, expect_eip
	movl $done, resume
	xor %eax, %eax
	mov $1, %edx
	mov $1, %ecx
div2:	div %ecx
	PRINT "not reached\n"
done:
	PRINT "done\n"
	jmp acpi_poweroff

de_handler:
	PRINT "divide error at "
	mov (%esp), %eax
	cmp expect_eip, %eax
	jne 1f
	PRINT "the div\n"
	jmp 2f
1:	call puthex
	PRINT "\n"
2:	mov saved_esp, %esp
	jmp *resume

exc_handler:
	PRINT "unexpected exception\n"
	jmp acpi_poweroff

/* idt_fill: #DE to de_handler, everything else to exc_handler. */
idt_fill:
	mov $idt, %edi
	mov $exc_handler, %eax
	mov %eax, %edx
	call idt_fill32
	xor %ecx, %ecx /* #DE */
	mov $de_handler, %eax
	jmp idt_gate32

	IDT32

	.bss
	.balign 8
resume:
	.long 0
expect_eip:
	.long 0
saved_esp:
	.long 0
