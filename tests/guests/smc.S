/*
 * tests/guests/smc.S: self-modifying code. Patches the immediate of an
 * instruction that already ran (also inside a loop, between iterations)
 * and runs it again, then patches it through a second virtual mapping of
 * its page (PAE paging) and runs it through the first. Soft engine only
 * (kvm-pvm has no paging outside long mode).
 */
#include "lib32.inc"

#define ALIAS 0x400000 /* a second mapping of smc_page */

	.text
	.globl main
main:
	call target
	PRINT "first: "
	call puthex
	PRINT "\n"

	movl $2, target + 1
	call target
	PRINT "patched: "
	call puthex
	PRINT "\n"

	/* Patch between iterations of a loop: each run must see the last store. */
	xor %ebx, %ebx
	mov $5, %ecx
1:	call target
	add %eax, %ebx
	inc %eax
	mov %eax, target + 1
	dec %ecx
	jnz 1b
	PRINT "loop sum: "
	mov %ebx, %eax
	call puthex
	PRINT "\n"

	call paging_setup
	movl $0x77, ALIAS + (target - smc_page) + 1
	call target
	PRINT "through the alias: "
	call puthex
	PRINT "\n"
	jmp acpi_poweroff

/* paging_setup: PAE identity map of 4 MiB plus ALIAS -> smc_page. */
paging_setup:
	xor %ecx, %ecx
1:	mov %ecx, %eax
	shl $12, %eax
	or $3, %eax
	mov %eax, pt(, %ecx, 8)
	movl $0, pt + 4(, %ecx, 8)
	inc %ecx
	cmp $1024, %ecx
	jb 1b
	mov $smc_page, %eax
	or $3, %eax
	mov %eax, pt_alias
	movl $pt + 3, pd
	movl $pt + 4096 + 3, pd + 8
	movl $pt_alias + 3, pd + 16
	movl $pd + 1, pdpt
	mov $pdpt, %eax
	mov %eax, %cr3
	mov %cr4, %eax
	or $0x20, %eax
	mov %eax, %cr4
	mov %cr0, %eax
	or $0x80000000, %eax
	mov %eax, %cr0
	ret

	.balign 4096
smc_page:
	nop
target:
	mov $1, %eax
	ret
	.balign 4096

	.bss
	.balign 4096
pdpt:
	.skip 4096
pd:
	.skip 4096
pt:
	.skip 8192
pt_alias:
	.skip 4096
