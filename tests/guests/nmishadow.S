/*
 * tests/guests/nmishadow.S: cross-CPU NMIs into a vCPU that keeps opening
 * one-instruction STI windows, in long mode (where the soft engine
 * translates). The AP loops on "sti; touch a page; cli", counting; the BSP
 * sends it NMIS NMIs through the ICR, one at a time. Each NMI must come
 * while the AP is at most MAX_LAG iterations past the moment the BSP's ICR
 * write had finished (not a batch of instructions later, held off by a
 * shadow long over), and never on the instruction right after STI, which
 * the shadow covers. Needs two vCPUs; soft engine only.
 */
#include "lib32.inc"
#include "long.inc"

#define TRAMP_ADDR 0x10000
#define NMIS 300
#define MAX_LAG 1000
#define SPIN_LIMIT 2000000000
#define ICR_NMI_TO_1 0x400 /* delivery mode NMI, physical */
#define TOUCH_SPAN 0x2000000 /* 32 MiB of pages the AP's loop reads in turn */

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
	lidt idt64_desc(%rip)

	AP_START_CPU1 TRAMP_ADDR

	mov $SPIN_LIMIT, %r9
2:	cmpl $0, ap_ready(%rip)
	jne 3f
	dec %r9
	jnz 2b
	jmp stuck

	/* One NMI at a time: send, note the AP's count, wait for the handler. */
3:	xor %r8d, %r8d /* NMIs sent */
4:	movl $(1 << 24), 0x310(%rdi)
	movl $ICR_NMI_TO_1, 0x300(%rdi)
	mov count(%rip), %rax
	inc %r8d
	mov $SPIN_LIMIT, %r9
5:	cmp nmis(%rip), %r8d
	je 6f
	dec %r9
	jnz 5b
	jmp stuck
6:	mov nmi_at(%rip), %rdx
	sub %rax, %rdx
	cmp $MAX_LAG, %rdx
	jle 7f
	incl late(%rip)
7:	cmp $NMIS, %r8d
	jne 4b

	cmpl $0, late(%rip)
	je 8f
	lea msg_late(%rip), %rsi
	call puts64
8:	cmpl $0, in_shadow(%rip)
	je 9f
	lea msg_shadow(%rip), %rsi
	call puts64
9:	lea msg_done(%rip), %rsi
	call puts64
	jmp reset64

stuck:
	lea msg_stuck(%rip), %rsi
	call puts64
	jmp reset64

ap_long:
	LONG_MODE_SEGMENTS ap_stack_top
	lidt idt64_desc(%rip)
	movl $1, ap_ready(%rip)
	xor %ebx, %ebx
1:	sti
post_sti:
	testb $0, (%rbx)
	cli
	incq count(%rip)
	add $4096, %ebx
	and $(TOUCH_SPAN - 1), %ebx
	jmp 1b

nmi_handler:
	push %rax
	mov count(%rip), %rax
	mov %rax, nmi_at(%rip)
	lea post_sti(%rip), %rax
	cmp %rax, 8(%rsp)
	jne 1f
	incl in_shadow(%rip)
1:	incl nmis(%rip)
	pop %rax
	iretq

	AP_TRAMPOLINE pml4, ap_long

	.section .rodata
	.balign 8
idt64_desc:
	.word 256 * 16 - 1
	.long idt64, 0
msg_done:	.asciz "nmishadow: all NMIs taken\n"
msg_late:	.asciz "nmishadow: an NMI came a batch late\n"
msg_shadow:	.asciz "nmishadow: an NMI came inside the STI shadow\n"
msg_stuck:	.asciz "nmishadow: stuck\n"

	.data
	.balign 8
count:		.quad 0
nmi_at:		.quad 0
nmis:		.long 0
late:		.long 0
in_shadow:	.long 0
ap_ready:	.long 0

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
