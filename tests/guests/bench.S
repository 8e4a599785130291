/*
 * tests/guests/bench.S: the smallest full boot for bench/: one line, then a
 * reset at once. QEMU's microvm has no i8042, so there the reset is ignored
 * and the triple fault that follows ends the run (-no-reboot) without
 * printing anything else; kite stops at the i8042 write already.
 */
#include "lib32.inc"

	.text
	.globl main
main:
	PRINT "kite bench guest\n"
	mov $0xfe, %al
	out %al, $0x64
	jmp triple_fault
