/*
 * tests/guests/udstream.S: a hostile guest. With no IDT it runs a stream of
 * invalid opcodes (reserved, 64-bit-only and removed encodings): the first
 * #UD is a triple fault (exit 3).
 */
#include "lib32.inc"

	.text
	.globl main
main:
	PRINT "running invalid opcodes\n"
	lidt null_idt
	.byte 0x0f, 0xff, 0x0f, 0x04, 0x0f, 0x0a, 0xd6, 0x0f, 0x0b, 0xfe, 0xff
	PRINT "not reached\n"
	jmp acpi_poweroff
