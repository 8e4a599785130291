/*
 * tests/guests/apicctl.S: CR8 as the local APIC's TPR[7:4], both ways, and
 * CPUID.1:EDX.APIC following the enable bit of IA32_APIC_BASE (with the
 * APIC disabled CR8 still holds what is written), and the APIC page moved
 * through IA32_APIC_BASE; the timer's count across mode changes. In long
 * mode, where CR8 exists.
 */
#include "lib32.inc"
#include "long.inc"

#define TPR (LAPIC + 0x80)
#define MSR_APIC_BASE 0x1b
#define NEW_BASE 0xfed40000

.macro SAY str
	.pushsection .rodata.str, "a"
9998:	.asciz "\str"
	.popsection
	lea 9998b(%rip), %rsi
	call puts64
.endm

	.text
	.globl main
main:
	IDENTITY_MAP pml4, pdpt, pd0, pd3
	LONG_MODE_ENTER pml4, long_entry
	.code64
long_entry:
	LONG_MODE_SEGMENTS stack64_top
	call cpuid_apic
	mov $5, %eax
	mov %rax, %cr8
	SAY "cr8 5 -> tpr "
	mov $TPR, %edi
	mov (%rdi), %eax
	call puthex64_16
	movl $0x30, (%rdi)
	SAY "\ntpr 0x30 -> cr8 "
	mov %cr8, %rax
	call puthex64_16
	SAY "\n"
	xor %eax, %eax
	mov %rax, %cr8

	/* Disable the APIC: gone from CPUID; CR8 keeps its own value meanwhile. */
	mov $MSR_APIC_BASE, %ecx
	rdmsr
	mov %eax, %ebx
	and $~(1 << 11), %eax
	wrmsr
	SAY "apic disabled\n"
	call cpuid_apic
	mov $0xf, %eax
	mov %rax, %cr8
	mov %cr8, %rax
	SAY "cr8 "
	call puthex64_16
	SAY "\n"
	xor %eax, %eax
	mov %rax, %cr8
	mov $MSR_APIC_BASE, %ecx
	mov %ebx, %eax
	xor %edx, %edx
	wrmsr
	SAY "apic enabled\n"
	call cpuid_apic

	/* Relocate the APIC page: its registers answer there, and no longer here. */
	mov $LAPIC + 0x30, %edi
	mov (%rdi), %r12d /* LVR */
	mov $MSR_APIC_BASE, %ecx
	rdmsr
	mov %eax, %ebx
	and $0xfff, %eax
	or $NEW_BASE, %eax
	wrmsr
	mov $NEW_BASE + 0x30, %edi
	SAY "relocated lvr "
	cmp (%rdi), %r12d
	jne 1f
	SAY "matches, "
	jmp 2f
1:	SAY "differs, "
2:	mov $LAPIC + 0x30, %edi
	SAY "old page reads "
	mov (%rdi), %eax
	call puthex64_16
	SAY "\n"
	mov $MSR_APIC_BASE, %ecx
	mov %ebx, %eax
	xor %edx, %edx
	wrmsr
	mov $LAPIC + 0x30, %edi
	cmp (%rdi), %r12d
	jne 3f
	SAY "back at the default base\n"

	/*
	 * The timer's mode changes keep its count: a one-shot that ran out stays
	 * at 0 in periodic mode, and a periodic count goes on in one-shot mode.
	 */
3:	mov $LAPIC + 0x3e0, %edi
	movl $0xb, (%rdi) /* DCR: divide by 1 */
	mov $LAPIC + 0x320, %edi
	movl $0x10040, (%rdi) /* LVT timer: one-shot, masked */
	mov $LAPIC + 0x380, %r9d
	movl $0x1000, (%r9) /* TMICT */
	mov $LAPIC + 0x390, %r8d /* TMCCT */
	mov $100000000, %ecx
4:	cmpl $0, (%r8)
	je 5f
	dec %ecx
	jnz 4b
	SAY "one-shot count never reached 0\n"
	jmp reset64
5:	movl $0x30040, (%rdi) /* periodic, masked */
	SAY "periodic after a spent one-shot: "
	mov (%r8), %eax
	test %eax, %eax
	jnz 6f
	SAY "count stays 0\n"
	jmp 7f
6:	SAY "count restarted\n"
7:	movl $0x10000000, (%r9) /* a long period */
	mov $100000, %ecx
8:	dec %ecx
	jnz 8b
	movl $0x10040, (%rdi) /* back to one-shot */
	SAY "one-shot after periodic: "
	mov (%r8), %eax
	test %eax, %eax
	jz 9f
	cmp $0x10000000, %eax
	jae 9f
	SAY "count goes on\n"
	jmp 10f
9:	SAY "count lost\n"
10:	movl $0, (%r9)
	jmp reset64

/* Prints CPUID.1:EDX.APIC. */
cpuid_apic:
	push %rbx
	mov $1, %eax
	cpuid
	SAY "cpuid apic "
	mov %edx, %eax
	shr $9, %eax
	and $1, %eax
	call puthex64_16
	SAY "\n"
	pop %rbx
	ret

	.bss
	.balign 4096
pml4:	.space 4096
pdpt:	.space 4096
pd0:	.space 4096
pd3:	.space 4096
	.space 8192
stack64_top:
