/*
 * tests/guests/smp.S: bring up APIC ID 1 with INIT/SIPI. The AP runs a real
 * mode trampoline at 0x10000 that prints its APIC ID, raises a flag and parks;
 * the BSP waits for the flag with a bound, then powers off.
 *
 * Delays are measured with the local APIC timer (masked, used as a clock), so
 * they mean about the same time on a fast and on a slow engine.
 */
#include "lib32.inc"

#define TRAMP_ADDR 0x10000
#define SIPI_VECTOR (TRAMP_ADDR >> 12)
#define AP_FLAG (TRAMP_ADDR + ap_flag - ap_tramp)
#define ICR_LO (LAPIC + 0x300)
#define ICR_HI (LAPIC + 0x310)
#define ICR_INIT 0x4500 /* INIT, level assert */
#define ICR_SIPI (0x4600 | SIPI_VECTOR)
#define TICKS_10MS 10000000 /* at KVM's 1 GHz APIC bus, divide by 1 */
#define TICKS_1S 1000000000
#define SPIN_MAX 100000000 /* in case the timer does not count */

	.text
	.globl main
main:
	movl $0x1ff, LAPIC + 0xf0 /* SVR: enabled, spurious vector 0xff */
	movl $0x10000, LAPIC + 0x320 /* timer LVT masked: a clock only */
	movl $0xb, LAPIC + 0x3e0 /* divide by 1 */

	/* Copy the trampoline byte by byte: string instructions are out (kvm-pvm). */
	mov $ap_tramp, %esi
	mov $TRAMP_ADDR, %edi
1:	movb (%esi), %al
	movb %al, (%edi)
	inc %esi
	inc %edi
	cmp $ap_tramp_end, %esi
	jb 1b
	movb $0, AP_FLAG

	movl $(1 << 24), ICR_HI
	movl $ICR_INIT, ICR_LO
	mov $TICKS_10MS, %ecx
	call wait_flag
	movl $(1 << 24), ICR_HI
	movl $ICR_SIPI, ICR_LO
	mov $TICKS_10MS, %ecx
	call wait_flag
	jnc 2f
	/* The second SIPI of the MP spec; ignored if the AP already runs. */
	movl $(1 << 24), ICR_HI
	movl $ICR_SIPI, ICR_LO
	mov $TICKS_1S, %ecx
	call wait_flag
	jnc 2f
	PRINT "ap timeout\n"
	jmp acpi_poweroff
2:	PRINT "bsp: ap checked in\n"
	jmp acpi_poweroff

/*
 * wait_flag: waits up to %ecx APIC timer ticks for the AP's flag; CF clear
 * when it was raised.
 */
wait_flag:
	push %ecx
	push %edx
	mov %ecx, LAPIC + 0x380
	mov $SPIN_MAX, %edx
1:	cmpb $0, AP_FLAG
	jne 2f
	cmpl $0, LAPIC + 0x390
	je 3f
	dec %edx
	jnz 1b
3:	pop %edx
	pop %ecx
	stc
	ret
2:	pop %edx
	pop %ecx
	clc
	ret

/*
 * The AP trampoline, copied to TRAMP_ADDR and entered in real mode at
 * CS:IP = 0x1000:0000. Addresses inside it are offsets from ap_tramp.
 */
	.code16
ap_tramp:
	cli
	mov %cs, %ax
	mov %ax, %ds
	mov %ax, %ss
	mov $0x1000, %sp /* top of the 4 KiB page holding the trampoline */
	mov $(ap_msg_cpu - ap_tramp), %si
	call ap_puts
	mov $1, %eax
	cpuid
	shr $24, %ebx
	mov %bx, %ax
	mov $10, %cl
	div %cl /* %al = tens, %ah = units */
	test %al, %al
	jz 1f
	add $'0', %al
	call ap_putc
1:	mov %ah, %al
	add $'0', %al
	call ap_putc
	mov $(ap_msg_up - ap_tramp), %si
	call ap_puts
	movb $1, (ap_flag - ap_tramp)
2:	cli
	hlt /* parking is fine: kite stops every vCPU when the VM stops */
	jmp 2b

ap_puts:
	push %ax
	push %si
1:	movb (%si), %al
	test %al, %al
	jz 2f
	call ap_putc
	inc %si
	jmp 1b
2:	pop %si
	pop %ax
	ret

ap_putc:
	push %ax
	push %cx
	push %dx
	mov %al, %ah
	mov $0xffff, %cx
	mov $COM1 + 5, %dx
1:	in %dx, %al
	test $0x20, %al
	jnz 2f
	dec %cx
	jnz 1b
2:	mov %ah, %al
	mov $COM1, %dx
	out %al, %dx
	pop %dx
	pop %cx
	pop %ax
	ret

ap_msg_cpu:
	.asciz "cpu "
ap_msg_up:
	.asciz " up\n"
ap_flag:
	.byte 0
ap_tramp_end:
	.code32
