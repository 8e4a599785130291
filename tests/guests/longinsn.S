/*
 * tests/guests/longinsn.S: a hostile guest. A 16-byte instruction (15
 * operand-size prefixes and a NOP) raises #GP; with no IDT that is a triple
 * fault (exit 3).
 */
#include "lib32.inc"

	.text
	.globl main
main:
	PRINT "running a 16-byte instruction\n"
	lidt null_idt
	.fill 15, 1, 0x66
	nop
	PRINT "not reached\n"
	jmp acpi_poweroff
