/*
 * tests/guests/cpuloop.S: the CPU-bound benchmark guest for bench/ (soft
 * engine against QEMU TCG). From the PVH entry it enters long mode itself
 * (so QEMU runs the same binary), runs LOOP_ITERATIONS of integer, memory
 * and SSE work, prints a checksum and resets. Not for kvm-pvm: it uses SSE
 * in CPL0.
 */
#include "lib32.inc"
#include "long.inc"

#define LOOP_ITERATIONS 10000000
#define BUF_BYTES 0x40000 /* 256 KiB working set */

	.text
	.globl main
main:
	IDENTITY_MAP pml4, pdpt, pd
	/* SSE on: OSFXSR OSXMMEXCPT, EM off, MP. */
	LONG_MODE_ENTER pml4, long_entry, cr4_set=(1<<9)|(1<<10), cr0_set=1<<1, cr0_clear=1<<2

	.code64
long_entry:
	LONG_MODE_SEGMENTS stack64_top

	mov $0x9e3779b97f4a7c15, %rax /* PRNG state */
	xor %r8, %r8
	xor %r9, %r9
	pxor %xmm1, %xmm1
	pxor %xmm2, %xmm2
	pxor %xmm4, %xmm4
	pxor %xmm6, %xmm6
	mov $LOOP_ITERATIONS, %rcx
	lea buf(%rip), %rdi
2:
	/* Integer: xorshift64, multiply, rotate. */
	mov %rax, %rdx
	shl $13, %rdx
	xor %rdx, %rax
	mov %rax, %rdx
	shr $7, %rdx
	xor %rdx, %rax
	mov %rax, %rdx
	shl $17, %rdx
	xor %rdx, %rax
	imul $0x2545f491, %rax, %rdx
	add %rdx, %r8
	rol $11, %r8
	/* Memory: a read-modify-write and a dependent load in 256 KiB. */
	mov %eax, %edx
	and $(BUF_BYTES - 8), %edx
	xor %r8, (%rdi,%rdx)
	lea (%rdx,%rdx,4), %rdx
	and $(BUF_BYTES - 8), %edx
	add (%rdi,%rdx), %r9
	/* SSE2: integer lanes and a double. */
	movq %rax, %xmm0
	paddq %xmm0, %xmm1
	pxor %xmm1, %xmm2
	pshufd $0x4e, %xmm2, %xmm3
	paddd %xmm3, %xmm4
	mov %eax, %edx
	and $0xffff, %edx
	cvtsi2sd %edx, %xmm5
	mulsd half(%rip), %xmm5
	addsd %xmm5, %xmm6
	dec %rcx
	jnz 2b

	/* Checksum of everything the loop touched. */
	movq %xmm4, %rdx
	xor %rdx, %r8
	movq %xmm2, %rdx
	xor %rdx, %r8
	cvttsd2si %xmm6, %rdx
	xor %rdx, %r8
	xor %r9, %r8
	lea msg(%rip), %rsi
	call puts64
	mov %r8, %rax
	call puthex64_16
	mov $'\n', %al
	call putc64
	jmp reset64

	.section .rodata
	.balign 8
half:	.double 0.5
msg:	.asciz "cpuloop: "

	.bss
	.balign 4096
pml4:	.space 4096
pdpt:	.space 4096
pd:	.space 4096
buf:	.space BUF_BYTES
	.space 4096
stack64_top:
