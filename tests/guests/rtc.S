/*
 * tests/guests/rtc.S: the CMOS clock as Linux reads it: status B says BCD and
 * 24-hour mode, and every date and time register holds a valid BCD value in
 * range. Prints the century (deterministic until 2100), not the date.
 */
#include "lib32.inc"

	.text
	.globl main
main:
	/* Wait (bounded) for the end of an update cycle: UIP in register A. */
	mov $1000000, %ecx
1:	mov $0x0a, %al
	call cmos_read
	test $0x80, %al
	jz 2f
	dec %ecx
	jnz 1b
	PRINT "rtc: update never ends\n"
	jmp acpi_poweroff

2:	mov $0x0b, %al
	call cmos_read
	and $0x06, %al /* binary mode, 24-hour mode */
	cmp $0x02, %al
	je 3f
	PRINT "rtc: not bcd 24h\n"
	jmp acpi_poweroff

3:	mov $rtc_checks, %esi
4:	movzbl (%esi), %eax /* register, 0xff ends the table */
	cmp $0xff, %al
	je 6f
	call cmos_read
	call bcd_check
	jnc 5f
	PRINT "rtc: bad register "
	movzbl (%esi), %eax
	call puthex
	PRINT "\n"
	jmp acpi_poweroff
5:	add $3, %esi
	jmp 4b

6:	PRINT "rtc: bcd 24h ok\n"
	PRINT "rtc: century "
	mov $0x32, %al
	call cmos_read
	movzbl %al, %eax
	call puthex
	PRINT "\n"
	jmp acpi_poweroff

/* cmos_read: %al = CMOS register %al (NMI stays enabled). */
cmos_read:
	push %edx
	out %al, $0x70
	in $0x71, %al
	pop %edx
	ret

/*
 * bcd_check: CF clear when %al is BCD within [1(%esi), 2(%esi)] (the bounds
 * are BCD too, so they compare as plain bytes).
 */
bcd_check:
	push %eax
	mov %al, %ah
	and $0x0f, %ah
	cmp $9, %ah
	ja 1f
	mov %al, %ah
	shr $4, %ah
	cmp $9, %ah
	ja 1f
	cmp 1(%esi), %al
	jb 1f
	cmp 2(%esi), %al
	ja 1f
	pop %eax
	clc
	ret
1:	pop %eax
	stc
	ret

	.section .rodata, "a"
rtc_checks: /* register, minimum, maximum */
	.byte 0x00, 0x00, 0x59 /* seconds */
	.byte 0x02, 0x00, 0x59 /* minutes */
	.byte 0x04, 0x00, 0x23 /* hours */
	.byte 0x06, 0x01, 0x07 /* day of week */
	.byte 0x07, 0x01, 0x31 /* day of month */
	.byte 0x08, 0x01, 0x12 /* month */
	.byte 0x09, 0x00, 0x99 /* year */
	.byte 0x32, 0x19, 0x99 /* century */
	.byte 0xff
