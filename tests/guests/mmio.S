/*
 * tests/guests/mmio.S: accesses nobody claims. Reads must return all ones and
 * writes must be dropped, both for MMIO in the hole and for port I/O.
 */
#include "lib32.inc"

#define UNCLAIMED_MMIO 0xd0000000
#define UNCLAIMED_PORT 0x2f0

	.text
	.globl main
main:
	PRINT "mmio: "
	mov UNCLAIMED_MMIO, %eax
	call puthex
	PRINT "\n"
	PRINT "pio: "
	mov $UNCLAIMED_PORT, %dx
	in %dx, %al
	movzbl %al, %eax
	call puthex
	PRINT "\n"
	movl $0x12345678, UNCLAIMED_MMIO
	mov $0x5a, %al
	out %al, %dx
	/* Read back: a write that stuck would show up here. */
	mov UNCLAIMED_MMIO, %eax
	cmp $0xffffffff, %eax
	je 1f
	PRINT "mmio write stuck\n"
1:	in %dx, %al
	cmp $0xff, %al
	je 2f
	PRINT "pio write stuck\n"
2:	PRINT "done\n"
	jmp acpi_poweroff
