/*
 * tests/guests/hello.S: PVH boot check. Prints the start_info magic check, the
 * command line, the modules (size and first line) and the memory map, then
 * powers off through ACPI.
 */
#include "lib32.inc"

	.text
	.globl main
main:
	PRINT "hello from kite\n"
	mov start_info_ptr, %ebx
	cmpl $START_INFO_MAGIC, (%ebx)
	je 1f
	PRINT "start_info bad\n"
	ret
1:	PRINT "start_info ok\n"

	PRINT "cmdline: "
	mov 24(%ebx), %esi /* cmdline_paddr; 0 means none */
	test %esi, %esi
	jz 2f
	mov $256, %ecx
	call putsn
2:	PRINT "\n"

	PRINT "modules: "
	mov 12(%ebx), %eax
	call putdec
	PRINT "\n"
	mov %eax, %ecx
	mov 16(%ebx), %edi /* modlist_paddr: 32-byte entries */
	cmp $8, %ecx /* a sane bound; kite passes at most one */
	jbe 3f
	mov $8, %ecx
3:	test %ecx, %ecx
	jz 4f
	PRINT "module: "
	mov 8(%edi), %eax
	mov 12(%edi), %edx
	call puthex64
	PRINT " "
	mov (%edi), %esi
	push %ecx
	mov $64, %ecx
	call putsn
	pop %ecx
	PRINT "\n"
	add $32, %edi
	dec %ecx
	jmp 3b

4:	cmpl $1, 4(%ebx) /* the memmap fields exist from version 1 */
	jae 5f
	PRINT "memmap: none\n"
	ret
5:	PRINT "e820 entries: "
	mov 48(%ebx), %eax
	call putdec
	PRINT "\n"
	mov %eax, %ecx
	mov 40(%ebx), %edi /* memmap_paddr: 24-byte entries */
	cmp $16, %ecx
	jbe 6f
	mov $16, %ecx
6:	test %ecx, %ecx
	jz 7f
	PRINT "e820: "
	mov (%edi), %eax
	mov 4(%edi), %edx
	call puthex64
	PRINT " "
	mov 8(%edi), %eax
	mov 12(%edi), %edx
	call puthex64
	PRINT " "
	mov 16(%edi), %eax
	call putdec
	PRINT "\n"
	add $24, %edi
	dec %ecx
	jmp 6b
7:	jmp acpi_poweroff
