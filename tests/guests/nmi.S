/*
 * tests/guests/nmi.S: an NMI that arrives while an NMI handler runs waits
 * for that handler's IRET, and is taken right then: before the first
 * instruction the IRET returns to. Self-NMIs through the local APIC's ICR.
 */
#include "lib32.inc"

#define ICR_LO (LAPIC + 0x300)
#define SELF_NMI ((1 << 18) | (4 << 8)) /* shorthand self, delivery mode NMI */
#define SPIN 200000

	.text
	.globl main
main:
	mov $idt, %edi
	mov $exc_handler, %eax
	mov %eax, %edx
	call idt_fill32
	mov $2, %ecx
	mov $nmi_handler, %eax
	call idt_gate32
	lidt idt_desc

	movl $SELF_NMI, ICR_LO
	mov $SPIN, %ecx
1:	cmpl $2, nmis
	je 2f
	dec %ecx
	jnz 1b
	PRINT "the nested NMI never came\n"
	jmp acpi_poweroff
2:	jmp *resume

/* The first IRET lands here instead of in the loop; the held NMI comes first. */
landing:
	movl $1, landed
	PRINT "landed after the nested NMI\n"
	jmp acpi_poweroff

nmi_handler:
	incl nmis
	cmpl $1, nmis
	jne nested
	PRINT "first NMI\n"
	movl $SELF_NMI, ICR_LO
	mov $SPIN, %ecx
3:	cmpl $1, nmis
	jne blocked_not
	dec %ecx
	jnz 3b
	PRINT "second NMI held while the first handler runs\n"
	movl $landing, (%esp) /* return to the landing pad */
	iret
blocked_not:
	PRINT "second NMI taken inside the first handler\n"
	jmp acpi_poweroff

nested:
	PRINT "second NMI after the IRET, "
	cmpl $landing, (%esp)
	jne 4f
	cmpl $0, landed
	jne 4f
	PRINT "before the landing pad ran\n"
	jmp 5f
4:	PRINT "late\n"
5:	movl $landing, resume
	iret

exc_handler:
	PRINT "unexpected exception\n"
	jmp acpi_poweroff

	IDT32

	.data
nmis:	.long 0
landed:	.long 0
resume:	.long landing
