/*
 * tests/guests/clock.S: publishes the guest's clocks for a host test
 * (tests/unit/test_pause.c) that pauses and resumes the VM and looks for a
 * jump. It enables the HPET and, where CPUID offers it, kvm-clock, then
 * loops forever writing the TSC, the ACPI PM timer, the HPET's main
 * counter and the local APIC timer's current count (periodic, masked, from
 * 2^32 - 1 at 1 GHz) to CLOCK_AREA, a sequence count around each round (odd while it
 * writes) so the host reads one consistent round.
 */
#include "lib32.inc"

#define CLOCK_AREA 0x01000000 /* 16 MiB: above the image, inside the test's 64 MiB */
#define AREA_SEQ (CLOCK_AREA + 0)
#define AREA_FLAGS (CLOCK_AREA + 4) /* bit 0: kvm-clock enabled, bit 1: sampling */
#define AREA_TSC (CLOCK_AREA + 8)
#define AREA_PM (CLOCK_AREA + 16)
#define AREA_HPET (CLOCK_AREA + 20)
#define AREA_LAPIC (CLOCK_AREA + 24)
#define AREA_PVCLOCK (CLOCK_AREA + 64) /* pvclock_vcpu_time_info, written by the engine */

#define HPET_CFG 0xfed00010
#define HPET_CNT 0xfed000f0
#define PM_TMR 0x608
#define APIC_SVR 0xfee000f0
#define APIC_LVT_TIMER 0xfee00320
#define APIC_TIMER_INIT 0xfee00380
#define APIC_TIMER_CUR 0xfee00390
#define APIC_TIMER_DCR 0xfee003e0
#define LVT_MASKED (1 << 16)
#define LVT_PERIODIC (1 << 17)
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01
#define KVM_FEATURE_CLOCKSOURCE2 (1 << 3)

	.text
	.globl main
main:
	movl $0, AREA_SEQ
	movl $0, AREA_FLAGS
	movl $1, HPET_CFG /* ENABLE_CNF: the main counter runs */
	movl $0x1ff, APIC_SVR
	movl $0xb, APIC_TIMER_DCR /* divide by 1 */
	movl $(LVT_MASKED | LVT_PERIODIC | 0x40), APIC_LVT_TIMER
	movl $0xffffffff, APIC_TIMER_INIT

	/* kvm-clock: a hypervisor leaf "KVMKVMKVM" offering CLOCKSOURCE2. */
	mov $1, %eax
	cpuid
	bt $31, %ecx
	jnc 1f
	mov $0x40000000, %eax
	cpuid
	cmp $0x4b4d564b, %ebx /* "KVMK" */
	jne 1f
	mov $0x40000001, %eax
	cpuid
	test $KVM_FEATURE_CLOCKSOURCE2, %eax
	jz 1f
	mov $MSR_KVM_SYSTEM_TIME_NEW, %ecx
	mov $(AREA_PVCLOCK + 1), %eax
	xor %edx, %edx
	wrmsr
	orl $1, AREA_FLAGS
1:	orl $2, AREA_FLAGS
	PRINT "clock: sampling\n"

	/* The reads first: the sequence stays odd only for the few stores. */
2:	rdtsc
	mov %eax, %esi
	mov %edx, %edi
	mov $PM_TMR, %dx
	in %dx, %eax
	mov %eax, %ebx
	mov HPET_CNT, %ebp
	mov APIC_TIMER_CUR, %ecx
	incl AREA_SEQ
	mov %esi, AREA_TSC
	mov %edi, AREA_TSC + 4
	mov %ebx, AREA_PM
	mov %ebp, AREA_HPET
	mov %ecx, AREA_LAPIC
	incl AREA_SEQ
	jmp 2b
