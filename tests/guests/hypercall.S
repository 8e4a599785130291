/*
 * tests/guests/hypercall.S: KVM's hypercall ABI through VMCALL and VMMCALL
 * (KVM_HC_VAPIC_POLL_IRQ answers 0, an unknown number -KVM_ENOSYS), and
 * IA32_MISC_ENABLE's writable architectural bits reading back as written.
 */
#include "lib32.inc"

#define MSR_MISC_ENABLE 0x1a0
/* fast strings, TCC, EIST, MONITOR, limit CPUID, xTPR, XD disable */
#define MISC_WRITABLE_LO 0x00c50009
#define MISC_WRITABLE_HI 0x00000004

	.text
	.globl main
main:
	PRINT "vmcall 1: "
	mov $1, %eax
	vmcall
	call puthex
	PRINT "\nvmcall 0x1234: "
	mov $0x1234, %eax
	vmcall
	call puthex
	PRINT "\nvmmcall 1: "
	mov $1, %eax
	vmmcall
	call puthex
	PRINT "\n"

	mov $MSR_MISC_ENABLE, %ecx
	rdmsr
	mov %eax, saved_lo
	mov %edx, saved_hi
	/* All writable bits on (the read-only ones as they were), then all off. */
	or $MISC_WRITABLE_LO, %eax
	or $MISC_WRITABLE_HI, %edx
	wrmsr
	rdmsr
	PRINT "misc_enable set: "
	and $MISC_WRITABLE_LO, %eax
	and $MISC_WRITABLE_HI, %edx
	call puthex64
	mov saved_lo, %eax
	mov saved_hi, %edx
	and $~MISC_WRITABLE_LO, %eax
	and $~MISC_WRITABLE_HI, %edx
	wrmsr
	rdmsr
	PRINT "\nmisc_enable clear: "
	and $MISC_WRITABLE_LO, %eax
	and $MISC_WRITABLE_HI, %edx
	call puthex64
	PRINT "\n"
	mov saved_lo, %eax
	mov saved_hi, %edx
	wrmsr
	jmp acpi_poweroff

	.bss
saved_lo: .long 0
saved_hi: .long 0
