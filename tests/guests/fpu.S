/*
 * tests/guests/fpu.S: an x87 and an SSE2 computation whose results the guest
 * prints bit for bit (double precision, hex). Soft engine only: kvm-pvm's
 * CPL0 emulator has no x87 or SSE.
 */
#include "lib32.inc"

	.text
	.globl main
main:
	/* CR0: FPU present, no emulation, native errors; CR4: OSFXSR, OSXMMEXCPT. */
	mov %cr0, %eax
	and $~((1 << 2) | (1 << 3)), %eax /* EM, TS */
	or $((1 << 1) | (1 << 5)), %eax	  /* MP, NE */
	mov %eax, %cr0
	mov %cr4, %eax
	or $((1 << 9) | (1 << 10)), %eax
	mov %eax, %cr4

	/* x87: 1 + sqrt(pi) * log2(e), and the status word's condition bits of a compare. */
	fninit
	fldpi
	fsqrt
	fldl2e
	fmulp
	fld1
	faddp
	fstpl x87_result
	fld1
	fldz
	fcompp
	fnstsw %ax
	mov %eax, x87_status
	PRINT "x87: "
	mov x87_result, %eax
	mov x87_result + 4, %edx
	call puthex64
	PRINT " fsw "
	mov x87_status, %eax
	and $0x4700, %eax /* C3 C2 C0 */
	call puthex
	PRINT "\n"

	/* SSE2: 3 * sqrt(2) / 7 in double, then to int with truncation of * 1e6. */
	mov $2, %eax
	cvtsi2sd %eax, %xmm0
	sqrtsd %xmm0, %xmm1
	mov $3, %eax
	cvtsi2sd %eax, %xmm2
	mulsd %xmm2, %xmm1
	mov $7, %eax
	cvtsi2sd %eax, %xmm3
	divsd %xmm3, %xmm1
	movsd %xmm1, sse_result
	mov $1000000, %eax
	cvtsi2sd %eax, %xmm4
	mulsd %xmm4, %xmm1
	cvttsd2si %xmm1, %eax
	mov %eax, sse_int
	PRINT "sse2: "
	mov sse_result, %eax
	mov sse_result + 4, %edx
	call puthex64
	PRINT " int "
	mov sse_int, %eax
	call putdec
	PRINT "\n"
	jmp acpi_poweroff

	.data
	.balign 8
x87_result: .quad 0
sse_result: .quad 0
x87_status: .long 0
sse_int: .long 0
