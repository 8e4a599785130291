/*
 * tests/guests/timer.S: one local APIC timer interrupt. The handler finishes
 * the test itself (prints, powers off) instead of returning, because kvm-pvm
 * cannot emulate a 32-bit IRET.
 */
#include "lib32.inc"

#define TIMER_VECTOR 0x40
#define TIMER_COUNT 1000000 /* about 1 ms at KVM's 1 GHz APIC bus, divide by 1 */

	.text
	.globl main
main:
	call idt_fill
	lidt idt_desc
	PRINT "waiting\n"
	movl $0, LAPIC + 0x80 /* TPR: accept every priority */
	movl $0x1ff, LAPIC + 0xf0 /* SVR: enabled, spurious vector 0xff */
	movl $0xb, LAPIC + 0x3e0 /* divide by 1 */
	movl $TIMER_VECTOR, LAPIC + 0x320 /* one-shot, unmasked */
	movl $TIMER_COUNT, LAPIC + 0x380
	sti
	hlt
	cli
	PRINT "hlt returned\n"
	jmp acpi_poweroff

/* idt_fill: exceptions and stray interrupts get loud handlers, 0x40 the timer. */
idt_fill:
	mov $idt, %edi
	mov $exc_handler, %eax
	mov $irq_handler, %edx
	call idt_fill32
	mov $TIMER_VECTOR, %ecx
	mov $timer_handler, %eax
	jmp idt_gate32

timer_handler:
	PRINT "timer fired\n"
	jmp acpi_poweroff

exc_handler:
	PRINT "exception\n"
	jmp acpi_poweroff

irq_handler:
	PRINT "unexpected interrupt\n"
	jmp acpi_poweroff

	IDT32
