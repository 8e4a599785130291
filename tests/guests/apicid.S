/*
 * tests/guests/apicid.S: the xAPIC ID register takes all of bits 31:24 and
 * physical-mode IPIs follow what it holds; disabling the APIC through
 * IA32_APIC_BASE brings back the initial ID. The I/O APIC's ID register
 * keeps bits 27:24 only, and its arbitration ID follows it, read-only.
 * Interrupts stay off: IPIs are seen in IRR.
 */
#include "lib32.inc"

#define APIC_ID (LAPIC + 0x20)
#define ICR_LO (LAPIC + 0x300)
#define ICR_HI (LAPIC + 0x310)
#define IRR_40 (LAPIC + 0x220) /* vectors 0x40-0x5f */
#define MSR_APIC_BASE 0x1b
#define IOAPIC 0xfec00000

	.text
	.globl main
main:
	movl $0x1ff, LAPIC + 0xf0
	movl $0xffffffff, APIC_ID
	PRINT "id after writing all ones: "
	mov APIC_ID, %eax
	call puthex8
	movl $(5 << 24), APIC_ID
	movl $0, ICR_HI
	movl $0x41, ICR_LO /* fixed, physical, to ID 0: nobody now */
	movl $(5 << 24), ICR_HI
	movl $0x42, ICR_LO /* to ID 5: this CPU */
	PRINT "\nirr after ipis to 0 (0x41) and 5 (0x42): "
	mov IRR_40, %eax
	and $6, %eax
	call puthex8

	mov $MSR_APIC_BASE, %ecx
	rdmsr
	and $~(1 << 11), %eax
	wrmsr
	or $(1 << 11), %eax
	wrmsr
	PRINT "\nid after disable and enable: "
	mov APIC_ID, %eax
	call puthex8

	movl $0, IOAPIC
	mov IOAPIC + 0x10, %ebx
	movl $0xffffffff, IOAPIC + 0x10
	PRINT "\nioapic id after writing all ones: "
	mov IOAPIC + 0x10, %eax
	call puthex8
	movl $2, IOAPIC
	movl $0, IOAPIC + 0x10
	PRINT "\nioapic arbitration id: "
	mov IOAPIC + 0x10, %eax
	call puthex8
	movl $0, IOAPIC
	mov %ebx, IOAPIC + 0x10
	PRINT "\n"
	jmp acpi_poweroff
