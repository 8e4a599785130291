/*
 * tests/guests/x2apic.S: x2APIC mode (SDM 11.12). CPUID offers it; setting
 * IA32_APIC_BASE.EXTD turns the registers into MSRs 0x800-0x8ff (the ID is
 * the 32-bit x2APIC ID, LDR is derived from it) and the MMIO page off.
 * Interrupts go out through the 64-bit ICR MSR (physical, logical cluster,
 * self shorthand) and SELF IPI, and end with an EOI of 0. The faults: the
 * MSRs outside x2APIC mode, EOI read, LDR write, EOI of non-zero, leaving
 * x2APIC mode except by disabling the APIC, entering it from disabled.
 */
#include "lib32.inc"

#define MSR_APIC_BASE 0x1b
#define VEC 0x40

	.text
	.globl main
main:
	mov $idt, %edi
	mov $exc_handler, %eax
	mov %eax, %edx
	call idt_fill32
	mov $13, %ecx
	mov $gp_handler, %eax
	call idt_gate32
	mov $VEC, %ecx
	mov $irq_handler, %eax
	call idt_gate32
	lidt idt_desc
	/* The 8259s stay out of it. */
	mov $0xff, %al
	out %al, $0x21
	out %al, $0xa1

	PRINT "cpuid x2apic "
	mov $1, %eax
	cpuid
	mov %ecx, %eax
	shr $21, %eax
	and $1, %eax
	call puthex
	PRINT "\nid msr in xapic mode: "
	mov $0x802, %ecx
	call try_rdmsr

	/* Software-enable the APIC (SVR) while it is in xAPIC mode. */
	movl $0x1ff, LAPIC + 0xf0

	PRINT "enter x2apic: "
	mov $MSR_APIC_BASE, %ecx
	rdmsr
	or $(1 << 10), %eax
	call try_wrmsr
	PRINT "base "
	mov $MSR_APIC_BASE, %ecx
	rdmsr
	call puthex
	PRINT "\nid "
	mov $0x802, %ecx
	rdmsr
	call puthex
	PRINT " ldr "
	mov $0x80d, %ecx
	rdmsr
	call puthex
	PRINT " version "
	mov $0x803, %ecx
	rdmsr
	and $0xff, %eax
	call puthex
	PRINT "\nmmio id reads "
	mov LAPIC + 0x20, %eax
	call puthex
	PRINT "\n"

	sti
	PRINT "self ipi: "
	mov $0x83f, %ecx
	mov $VEC, %eax
	xor %edx, %edx
	wrmsr
	call took
	PRINT "icr physical dest 0: "
	mov $0x830, %ecx
	mov $(VEC | (0 << 8)), %eax
	xor %edx, %edx
	wrmsr
	call took
	PRINT "icr logical cluster 0 bit 0: "
	mov $0x830, %ecx
	mov $(VEC | (1 << 11)), %eax
	mov $1, %edx
	wrmsr
	call took
	PRINT "icr logical cluster 1 bit 0 (nobody): "
	mov $0x830, %ecx
	mov $(VEC | (1 << 11)), %eax
	mov $0x10001, %edx
	wrmsr
	call took
	PRINT "icr self shorthand: "
	mov $0x830, %ecx
	mov $(VEC | (1 << 18)), %eax
	xor %edx, %edx
	wrmsr
	call took
	PRINT "icr reads "
	mov $0x830, %ecx
	rdmsr
	push %eax
	mov %edx, %eax
	call puthex
	PRINT ":"
	pop %eax
	call puthex
	PRINT "\n"
	cli

	PRINT "eoi read: "
	mov $0x80b, %ecx
	call try_rdmsr
	PRINT "ldr write: "
	mov $0x80d, %ecx
	mov $1, %eax
	call try_wrmsr
	PRINT "eoi of 1: "
	mov $0x80b, %ecx
	mov $1, %eax
	call try_wrmsr
	PRINT "dfr read: "
	mov $0x80e, %ecx
	call try_rdmsr
	PRINT "back to xapic: "
	mov $MSR_APIC_BASE, %ecx
	rdmsr
	and $~(1 << 10), %eax
	call try_wrmsr
	PRINT "disable: "
	mov $MSR_APIC_BASE, %ecx
	rdmsr
	and $~((1 << 10) | (1 << 11)), %eax
	call try_wrmsr
	PRINT "disabled to x2apic: "
	mov $MSR_APIC_BASE, %ecx
	rdmsr
	or $((1 << 10) | (1 << 11)), %eax
	call try_wrmsr
	PRINT "enable xapic: "
	mov $MSR_APIC_BASE, %ecx
	rdmsr
	or $(1 << 11), %eax
	call try_wrmsr
	PRINT "mmio id reads "
	mov LAPIC + 0x20, %eax
	call puthex
	PRINT "\n"
	jmp acpi_poweroff

/* Prints how many interrupts arrived since the last call. */
took:
	push %eax
	mov $1000, %eax
1:	dec %eax /* they are taken at once; the loop only gives them room */
	jnz 1b
	mov irqs, %eax
	movl $0, irqs
	call puthex
	PRINT "\n"
	pop %eax
	ret

/* RDMSR ECX: prints the value or "#GP". */
try_rdmsr:
	push %eax
	push %edx
	movl $0, gp
	rdmsr
	cmpl $0, gp
	jne 1f
	call puthex
	PRINT "\n"
	jmp 2f
1:	PRINT "#GP\n"
2:	pop %edx
	pop %eax
	ret

/* WRMSR ECX = EAX (EDX 0): prints "ok" or "#GP". */
try_wrmsr:
	push %edx
	movl $0, gp
	xor %edx, %edx
	wrmsr
	cmpl $0, gp
	jne 1f
	PRINT "ok\n"
	jmp 2f
1:	PRINT "#GP\n"
2:	pop %edx
	ret

/* #GP from RDMSR/WRMSR: note it and skip the 2-byte instruction. */
gp_handler:
	movl $1, gp
	addl $2, 4(%esp) /* past the error code */
	add $4, %esp
	iret

irq_handler:
	push %eax
	push %ecx
	push %edx
	incl irqs
	mov $0x80b, %ecx
	xor %eax, %eax
	xor %edx, %edx
	wrmsr
	pop %edx
	pop %ecx
	pop %eax
	iret

exc_handler:
	PRINT "unexpected exception\n"
	jmp acpi_poweroff

	.bss
	.balign 4
gp:	.skip 4
irqs:	.skip 4

	IDT32
