/*
 * tests/guests/hypercall.S: KVM's hypercall ABI through VMCALL and VMMCALL
 * (KVM_HC_VAPIC_POLL_IRQ answers 0, an unknown number -KVM_ENOSYS),
 * KVM_HC_SEND_IPI as CPUID 0x40000001 offers it (a fixed IPI to this CPU's
 * own APIC ID lands in its IRR; IDs nobody has count 0; INIT is
 * -KVM_EINVAL), and IA32_MISC_ENABLE's writable architectural bits reading
 * back as written.
 */
#include "lib32.inc"

#define MSR_MISC_ENABLE 0x1a0
/* fast strings, TCC, EIST, MONITOR, limit CPUID, xTPR, XD disable */
#define MISC_WRITABLE_LO 0x00c50009
#define MISC_WRITABLE_HI 0x00000004
#define KVM_HC_SEND_IPI 10
#define PV_IPI_VECTOR 0x40
#define IRR_PV_IPI (LAPIC + 0x200 + (PV_IPI_VECTOR / 32) * 0x10)

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

	/* KVM_FEATURE_PV_SEND_IPI, bit 11. */
	mov $0x40000001, %eax
	cpuid
	shr $11, %eax
	and $1, %eax
	PRINT "pv send ipi offered: "
	call puthex
	/* Interrupts stay off: the IPI waits in IRR. */
	mov $KVM_HC_SEND_IPI, %eax
	mov $1, %ebx /* APIC ID min + 0 */
	xor %ecx, %ecx
	xor %edx, %edx /* min: this CPU's ID, 0 */
	mov $PV_IPI_VECTOR, %esi /* fixed */
	vmcall
	PRINT "\nsend_ipi to self: "
	call puthex
	mov IRR_PV_IPI, %eax
	shr $(PV_IPI_VECTOR % 32), %eax
	and $1, %eax
	PRINT ", irr: "
	call puthex
	mov $KVM_HC_SEND_IPI, %eax
	mov $-1, %ebx
	mov $-1, %ecx
	mov $-1, %edx /* IDs past 0xff: nobody */
	mov $PV_IPI_VECTOR, %esi
	vmcall
	PRINT "\nsend_ipi to nobody: "
	call puthex
	mov $KVM_HC_SEND_IPI, %eax
	mov $1, %ebx
	xor %ecx, %ecx
	xor %edx, %edx
	mov $0x500, %esi /* INIT */
	vmcall
	PRINT "\nsend_ipi INIT: "
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
