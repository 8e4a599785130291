/*
 * tests/guests/bench.S: the smallest full boot for bench/: one line, then a
 * reset at once. QEMU's microvm can run the same file.
 */
#include "lib32.inc"

	.text
	.globl main
main:
	PRINT "kite bench guest\n"
	jmp i8042_reset
