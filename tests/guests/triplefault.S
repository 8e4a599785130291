/*
 * tests/guests/triplefault.S: #UD with an empty IDT -> #DF -> triple fault,
 * which kite must report as a guest crash (exit 3) with the registers.
 */
#include "lib32.inc"

	.text
	.globl main
main:
	PRINT "faulting\n"
	jmp triple_fault
