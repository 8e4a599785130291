/*
 * tests/guests/panic.S: reports a kernel panic through the pvpanic port, as
 * Linux's pvpanic driver does from its panic notifier; kite must stop at
 * once with the panic status, without waiting for the guest.
 */
#include "lib32.inc"

#define PVPANIC_PORT 0x505

	.text
	.globl main
main:
	mov $PVPANIC_PORT, %dx
	in %dx, %al
	PRINT "pvpanic features: "
	movzbl %al, %eax
	call puthex
	PRINT "\n"
	mov $1, %al /* PVPANIC_PANICKED */
	out %al, %dx
	PRINT "still running\n"
1:	jmp 1b
