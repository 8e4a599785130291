/*
 * tests/guests/ptloop.S: a hostile guest. It turns on long-mode paging with
 * a PML4 whose only entry points back at the PML4 itself, so every walk goes
 * round the same table: the next fetch must fault (#PF, no IDT: triple
 * fault, exit 3), never loop in the MMU.
 */
#include "lib32.inc"

	.text
	.globl main
main:
	movl $pml4 + 3, pml4
	PRINT "paging with a PML4 that maps itself\n"
	lidt null_idt
	mov %cr4, %eax
	or $0x20, %eax
	mov %eax, %cr4
	mov $pml4, %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx
	rdmsr
	or $0x100, %eax
	wrmsr
	mov %cr0, %eax
	or $0x80000000, %eax
	mov %eax, %cr0
	PRINT "not reached\n"
	jmp acpi_poweroff

	.bss
	.balign 4096
pml4:
	.skip 4096
