/* tests/guests/spin.S: prints one line, then runs until the host stops kite. */
#include "lib32.inc"

	.text
	.globl main
main:
	PRINT "spinning\n"
1:	jmp 1b
