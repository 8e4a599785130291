/*
 * bench/hashloop_host.S: the hash benchmark's loop body (the tiny guest's,
 * tests/guests/hashloop.inc) as a host process: the physical limit a
 * translator of that guest could reach. Prints the checksum in hex.
 */
#include "hashloop.inc"

	.text
	.globl main
main:
	push %rbx
	HASH_LOOP
	mov %rax, %rsi
	lea fmt(%rip), %rdi
	xor %eax, %eax
	call printf@PLT
	xor %eax, %eax
	pop %rbx
	ret

	.section .rodata
fmt:	.asciz "hashloop: %016lx\n"
	.section .note.GNU-stack, "", @progbits
