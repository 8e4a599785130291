/*
 * tests/guests/nmitwo.S: two NMIs that reach a CPU at about the same time,
 * one from itself and one from another CPU, are both handled: the CPU takes
 * one and latches the other until that handler's IRET, whichever order they
 * come in. Each round the AP sends the BSP an NMI and then a fixed IPI; the
 * BSP sends itself an NMI and, once the fixed IPI's handler ran, must have
 * counted two NMIs. Needs two vCPUs; soft engine only.
 */
#include "lib32.inc"
#include "long.inc"

#define TRAMP_ADDR 0x10000
#define ROUNDS 3000
#define SPIN_LIMIT 2000000000
#define FLUSH_VECTOR 0x44
#define ICR_SELF_NMI ((1 << 18) | (4 << 8))

	.text
	.globl main
main:
	IDENTITY_MAP pml4, pdpt, pd0, pd3

	AP_TRAMPOLINE_COPY TRAMP_ADDR

	LONG_MODE_ENTER pml4, bsp_long

	.code64
bsp_long:
	LONG_MODE_SEGMENTS bsp_stack_top
	lea idt64(%rip), %rdi
	mov $2, %ecx
	lea nmi_handler(%rip), %rax
	call idt64_gate
	mov $FLUSH_VECTOR, %ecx
	lea flush_handler(%rip), %rax
	call idt64_gate
	lidt idt64_desc(%rip)

	AP_START_CPU1 TRAMP_ADDR
	sti

	xor %r8d, %r8d /* round */
2:	inc %r8d
	movl $0, nmis(%rip)
	movl $0, flushed(%rip)
	mov %r8d, go(%rip)
	movl $ICR_SELF_NMI, 0x300(%rdi)
	mov $SPIN_LIMIT, %r9
3:	cmpl $0, flushed(%rip)
	jne 4f
	pause
	dec %r9
	jnz 3b
	jmp stuck
4:	cmpl $2, nmis(%rip)
	je 5f
	incl bad(%rip)
5:	mov $SPIN_LIMIT, %r9
6:	cmp done(%rip), %r8d
	je 7f
	pause
	dec %r9
	jnz 6b
	jmp stuck
7:	cmp $ROUNDS, %r8d
	jne 2b

	cmpl $0, bad(%rip)
	je 8f
	lea msg_lost(%rip), %rsi
	call puts64
8:	lea msg_done(%rip), %rsi
	call puts64
	jmp reset64

stuck:
	lea msg_stuck(%rip), %rsi
	call puts64
	jmp reset64

ap_long:
	LONG_MODE_SEGMENTS ap_stack_top
	mov $0xfee00000, %rdi
	xor %r8d, %r8d
1:	mov $SPIN_LIMIT, %r9
2:	cmp go(%rip), %r8d
	jne 3f
	pause
	dec %r9
	jnz 2b
	jmp stuck
3:	inc %r8d
	movl $0, 0x310(%rdi)
	movl $0x400, 0x300(%rdi) /* NMI to APIC ID 0 */
	movl $FLUSH_VECTOR, 0x300(%rdi) /* then the fixed IPI, behind it */
	mov %r8d, done(%rip)
	jmp 1b

nmi_handler:
	incl nmis(%rip)
	iretq

flush_handler:
	push %rax
	movl $1, flushed(%rip)
	mov $0xfee000b0, %eax
	movl $0, (%rax) /* EOI */
	pop %rax
	iretq

	AP_TRAMPOLINE pml4, ap_long

	.section .rodata
	.balign 8
idt64_desc:
	.word 256 * 16 - 1
	.long idt64, 0
msg_done:	.asciz "nmitwo: all rounds done\n"
msg_lost:	.asciz "nmitwo: an NMI was lost\n"
msg_stuck:	.asciz "nmitwo: stuck\n"

	.data
	.balign 8
nmis:		.long 0
flushed:	.long 0
go:		.long 0
done:		.long 0
bad:		.long 0

	.bss
	.balign 4096
pml4:	.skip 4096
pdpt:	.skip 4096
pd0:	.skip 4096
pd3:	.skip 4096
idt64:	.skip 256 * 16
	.skip 4096
bsp_stack_top:
	.skip 4096
ap_stack_top:
