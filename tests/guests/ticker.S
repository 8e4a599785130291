/*
 * tests/guests/ticker.S: prints "tick N" with N counting up from 1, every
 * 100 ms by the ACPI PM timer, until the host stops kite: the API tests
 * pause and resume it and watch the count stop and go on.
 */
#include "lib32.inc"

#define PM_TMR 0x608		/* 24 bits at 3.579545 MHz (devices/acpi_pm.c) */
#define TICK_PM 357954		/* 100 ms of it */

	.text
	.globl main
main:
	mov $1, %ebx
1:	PRINT "tick "
	mov %ebx, %eax
	call putdec
	PRINT "\n"
	inc %ebx
	mov $PM_TMR, %dx
	in %dx, %eax
	mov %eax, %esi
2:	in %dx, %eax
	sub %esi, %eax
	and $0xffffff, %eax
	cmp $TICK_PM, %eax
	jb 2b
	jmp 1b
