/*
 * tests/guests/wildjump.S: a hostile guest. With PAE paging mapping only
 * the first 4 MiB and no IDT, it jumps into unmapped memory: #PF, then #DF,
 * then a triple fault, which kite must report (exit 3) without hanging.
 */
#include "lib32.inc"

	.text
	.globl main
main:
	xor %ecx, %ecx
1:	mov %ecx, %eax
	shl $21, %eax
	or $0x83, %eax /* 2 MiB pages */
	mov %eax, pd(, %ecx, 8)
	inc %ecx
	cmp $2, %ecx
	jb 1b
	movl $pd + 1, pdpt
	mov $pdpt, %eax
	mov %eax, %cr3
	mov %cr4, %eax
	or $0x20, %eax
	mov %eax, %cr4
	mov %cr0, %eax
	or $0x80000000, %eax
	mov %eax, %cr0
	PRINT "jumping to 0x40000000\n"
	lidt null_idt
	mov $0x40000000, %eax
	jmp *%eax

	.bss
	.balign 4096
pdpt:
	.skip 4096
pd:
	.skip 4096
