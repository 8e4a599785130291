/* tests/diff/enter.S: loads the x87/SSE state, every GPR and RFLAGS, and jumps to the code under test. */
	.text
	.globl	diff_enter
	.type	diff_enter, @function
diff_enter:
	/* rdi = struct diff_regs *, rsi = FXSAVE image; the stack is only needed for POPFQ. */
	fxrstor64 (%rsi)
	pushq	128(%rdi)
	popfq
	movq	0(%rdi), %rax
	movq	8(%rdi), %rcx
	movq	16(%rdi), %rdx
	movq	24(%rdi), %rbx
	movq	32(%rdi), %rsp
	movq	40(%rdi), %rbp
	movq	48(%rdi), %rsi
	movq	64(%rdi), %r8
	movq	72(%rdi), %r9
	movq	80(%rdi), %r10
	movq	88(%rdi), %r11
	movq	96(%rdi), %r12
	movq	104(%rdi), %r13
	movq	112(%rdi), %r14
	movq	120(%rdi), %r15
	movq	56(%rdi), %rdi
	jmp	*diff_target(%rip)
	.size	diff_enter, .-diff_enter

	.data
	.globl	diff_target
	.p2align 3
diff_target:
	.quad	0

	.section .note.GNU-stack,"",@progbits
