/*
 * tests/guests/port92.S: System Control Port A. It reads 02 (A20 on, the
 * reset bit clear); A20 and the reset bit read back as written, the other
 * bits do not stick; then bit 0 going from 0 to 1 resets the machine, as
 * the i8042's pulse does (kite exits with status 0 right after "resetting").
 */
#include "lib32.inc"

	.text
	.globl main
main:
	PRINT "port 92: "
	in $0x92, %al
	movzbl %al, %eax
	call puthex
	PRINT " "
	mov $0xfc, %al
	out %al, $0x92
	in $0x92, %al
	movzbl %al, %eax
	call puthex
	PRINT " "
	mov $0x02, %al
	out %al, $0x92
	in $0x92, %al
	movzbl %al, %eax
	call puthex
	PRINT "\nresetting\n"
	mov $0x03, %al
	out %al, $0x92
	mov $PM_TIMEOUT, %ecx
	call spin
	PRINT "port 92: reset failed\n"
	jmp triple_fault
