/*
 * tests/guests/hashloop.S: the integer+SSE2 hash benchmark guest for bench/
 * (soft engine against QEMU TCG and against the same loop as a host
 * process, bench/hashloop_host.S). Enters long mode from the PVH entry,
 * runs HASH_LOOP (hashloop.inc), prints the checksum and resets.
 */
#include "lib32.inc"
#include "long.inc"
#include "hashloop.inc"

	.text
	.globl main
main:
	IDENTITY_MAP pml4, pdpt, pd
	/* SSE on: OSFXSR OSXMMEXCPT, EM off, MP. */
	LONG_MODE_ENTER pml4, long_entry, cr4_set=(1<<9)|(1<<10), cr0_set=1<<1, cr0_clear=1<<2

	.code64
long_entry:
	LONG_MODE_SEGMENTS stack64_top

	HASH_LOOP
	mov %rax, %r8
	lea msg(%rip), %rsi
	call puts64
	mov %r8, %rax
	call puthex64_16
	mov $'\n', %al
	call putc64
	jmp reset64

	.section .rodata
	.balign 8
msg:	.asciz "hashloop: "

	.bss
	.balign 4096
pml4:	.space 4096
pdpt:	.space 4096
pd:	.space 4096
	.space 4096
stack64_top:
