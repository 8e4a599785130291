/*
 * tests/guests/uart.S: 8250 register round trips: the scratch register keeps
 * what was written, LCR reads back, DLAB exposes the divisor latch, and the
 * line status says the transmitter is empty.
 */
#include "lib32.inc"

	.text
	.globl main
main:
	mov $COM1 + 7, %dx /* SCR */
	mov $0xa5, %al
	out %al, %dx
	in %dx, %al
	movzbl %al, %eax
	PRINT "uart scr: "
	call puthex
	PRINT "\n"

	mov $COM1 + 3, %dx /* LCR: DLAB, then 8N1 */
	mov $0x83, %al
	out %al, %dx
	mov $COM1, %dx /* DLL: 115200 baud */
	mov $1, %al
	out %al, %dx
	mov $COM1 + 1, %dx /* DLM */
	xor %al, %al
	out %al, %dx
	mov $COM1, %dx
	in %dx, %al
	movzbl %al, %ecx
	mov $COM1 + 3, %dx
	mov $0x03, %al
	out %al, %dx
	in %dx, %al
	movzbl %al, %eax
	PRINT "uart lcr: "
	call puthex
	PRINT "\n"
	PRINT "uart dll: "
	mov %ecx, %eax
	call puthex
	PRINT "\n"

	mov $COM1 + 5, %dx /* LSR: THRE and TEMT once idle */
	in %dx, %al
	and $0x60, %al
	movzbl %al, %eax
	PRINT "uart lsr: "
	call puthex
	PRINT "\n"
	jmp acpi_poweroff
