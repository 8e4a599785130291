/*
 * tests/guests/btcode.S: code that changes under a translator, in long mode
 * (where the soft engine translates). Each part prints what the code it ran
 * computed; a translation that outlived its code prints another number.
 *   smc-next: each iteration stores the immediate of the next instruction
 *     of its own block, then runs it;
 *   jit: writes a new function into a page and calls it, 5000 times;
 *   remap: one virtual page mapped in turn to two frames holding different
 *     code (INVLPG between), called through the same address;
 *   ret-other: a callee that returns somewhere else than after its call;
 *   escape: a callee that never returns (it jumps back through its popped
 *     return address), 200000 times;
 *   recurse: a sum computed 50000 calls deep;
 *   ret-imm: RET imm16 dropping the caller's pushed arguments;
 *   storm: a periodic local APIC timer against a loop that jumps to itself
 *     and never leaves; the handler ends the loop after 1000 interrupts.
 * Ends with a reset through the i8042. Soft engine only (SSE-free, but
 * kvm-pvm cannot run guest paging changes at this rate).
 */
#include "lib32.inc"
#include "long.inc"

#define REMAP_VA 0x400000
#define TIMER_VECTOR 0x40
#define STORM_IRQS 1000

	.text
	.globl main
main:
	/* 0-1 GiB and 3-4 GiB (the local APIC) in 2 MiB pages; 4-6 MiB in 4 KiB pages. */
	IDENTITY_MAP pml4, pdpt, pd0, pd3
	mov $pt + 3, %eax
	mov %eax, pd0 + 16
	LONG_MODE_ENTER pml4, long_entry

	.code64
long_entry:
	LONG_MODE_SEGMENTS stack64_top

	/* smc-next: the store hits the instruction right after it. */
	xor %r8d, %r8d
	mov $1000, %ecx
1:	mov %ecx, %eax
	mov %eax, 2f + 1(%rip)
2:	mov $0, %ebx
	add %rbx, %r8
	dec %ecx
	jnz 1b
	lea msg_smc(%rip), %rsi
	call report

	/* jit: mov $n, %eax; add $n, %eax; ret, for n = 5000 down to 1. */
	lea jit_page(%rip), %rdi
	xor %r8d, %r8d
	mov $5000, %ecx
1:	movb $0xb8, (%rdi)
	mov %ecx, 1(%rdi)
	movb $0x05, 5(%rdi)
	mov %ecx, 6(%rdi)
	movb $0xc3, 10(%rdi)
	call *%rdi
	add %rax, %r8
	dec %ecx
	jnz 1b
	lea msg_jit(%rip), %rsi
	call report

	/* remap: REMAP_VA to frame_a, then frame_b, 100 times. */
	xor %r8d, %r8d
	mov $100, %ecx
	mov $REMAP_VA, %r9
1:	lea frame_a(%rip), %rax
	test $1, %ecx
	jz 2f
	lea frame_b(%rip), %rax
2:	or $3, %rax
	mov %rax, pt(%rip)
	invlpg (%r9)
	call *%r9
	add %rax, %r8
	dec %ecx
	jnz 1b
	lea msg_remap(%rip), %rsi
	call report

	/* ret-other: the add after the call must never run. */
	xor %r8d, %r8d
	mov $1000, %ecx
1:	call ret_elsewhere
	add $0x100000, %r8
ret_target:
	inc %r8
	dec %ecx
	jnz 1b
	lea msg_ret_other(%rip), %rsi
	call report

	/* escape: calls that leave their return addresses behind. */
	xor %r8d, %r8d
	mov $200000, %ecx
1:	call escape
	inc %r8
	dec %ecx
	jnz 1b
	lea msg_escape(%rip), %rsi
	call report

	/* recurse: 50000 + ... + 1 on a stack of its own. */
	mov %rsp, %r12
	lea big_stack_top(%rip), %rsp
	mov $50000, %edi
	call sum_rec
	mov %r12, %rsp
	mov %rax, %r8
	lea msg_recurse(%rip), %rsi
	call report

	/* ret-imm: the callee adds its two arguments and drops them. */
	xor %r8d, %r8d
	mov $1000, %ecx
1:	push $1
	push $2
	call ret16
	add %rax, %r8
	dec %ecx
	jnz 1b
	lea msg_ret_imm(%rip), %rsi
	call report

	/* storm: the timer interrupts a loop without exits. */
	call idt_setup
	lidt idt_desc(%rip)
	mov $0xfee00000, %rdi
	movl $0, 0x80(%rdi) /* TPR */
	movl $0x1ff, 0xf0(%rdi) /* SVR: enabled */
	movl $0xb, 0x3e0(%rdi) /* divide by 1 */
	movl $(TIMER_VECTOR | (1 << 17)), 0x320(%rdi) /* periodic */
	movl $20000, 0x380(%rdi)
	sti
storm_loop:
	jmp storm_loop
storm_done:
	cli
	movl $0x10000, 0x320(%rdi) /* masked */
	mov irq_count(%rip), %r8
	lea msg_storm(%rip), %rsi
	call report
	jmp reset64

ret_elsewhere:
	lea ret_target(%rip), %rax
	mov %rax, (%rsp)
	ret

escape:
	pop %rax
	jmp *%rax

/* sum_rec: RDI + (RDI - 1) + ... + 1 in RAX, one call per term. */
sum_rec:
	test %rdi, %rdi
	jz 1f
	push %rdi
	dec %rdi
	call sum_rec
	pop %rdi
	add %rdi, %rax
	ret
1:	xor %eax, %eax
	ret

ret16:
	mov 8(%rsp), %rax
	add 16(%rsp), %rax
	ret $16

/* report: prints the string at RSI and R8 in hex. */
report:
	call puts64
	mov %r8, %rax
	call puthex64_16
	mov $'\n', %al
	jmp putc64

timer_handler:
	push %rax
	push %rdi
	mov $0xfee00000, %rdi
	movl $0, 0xb0(%rdi) /* EOI */
	incq irq_count(%rip)
	cmpq $STORM_IRQS, irq_count(%rip)
	jb 1f
	/* Return to storm_done instead of the loop. */
	lea storm_done(%rip), %rax
	mov %rax, 16(%rsp)
1:	pop %rdi
	pop %rax
	iretq

bad_handler:
	lea msg_bad(%rip), %rsi
	call puts64
	jmp reset64

/* idt_setup: every vector to bad_handler, TIMER_VECTOR to timer_handler. */
idt_setup:
	lea idt(%rip), %rdi
	xor %ecx, %ecx
1:	lea bad_handler(%rip), %rax
	cmp $TIMER_VECTOR, %ecx
	jne 2f
	lea timer_handler(%rip), %rax
2:	call idt64_gate
	inc %ecx
	cmp $256, %ecx
	jne 1b
	ret

	/* The two frames REMAP_VA takes turns to map. */
	.balign 4096
frame_a:
	mov $0xa, %eax
	ret
	.balign 4096
frame_b:
	mov $0xb, %eax
	ret
	.balign 4096

	.section .rodata
msg_smc:	.asciz "smc-next: "
msg_jit:	.asciz "jit: "
msg_remap:	.asciz "remap: "
msg_ret_other:	.asciz "ret-other: "
msg_escape:	.asciz "escape: "
msg_recurse:	.asciz "recurse: "
msg_ret_imm:	.asciz "ret-imm: "
msg_storm:	.asciz "storm: "
msg_bad:	.asciz "unexpected exception or interrupt\n"
	.balign 8
idt_desc:
	.word 256 * 16 - 1
	.long idt, 0

	.bss
	.balign 4096
pml4:	.space 4096
pdpt:	.space 4096
pd0:	.space 4096
pd3:	.space 4096
pt:	.space 4096
jit_page:	.space 4096
idt:	.space 256 * 16
irq_count:	.quad 0
	.balign 16
	.space 8192
stack64_top:
	.space 1 << 20
big_stack_top:
