/* tests/guests/reset.S: reboot through the i8042 controller. */
#include "lib32.inc"

	.text
	.globl main
main:
	PRINT "resetting\n"
	jmp i8042_reset
