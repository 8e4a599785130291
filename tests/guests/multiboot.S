/*
 * tests/guests/multiboot.S: multiboot (v1) boot check, loaded at 32 KiB.
 * Prints the magic check, the information's flags, memory sizes, command
 * line, boot loader name, modules (size and first line) and memory map,
 * then powers off through ACPI.
 */
#define MULTIBOOT_GUEST
#include "lib32.inc"

	.text
	.globl main
main:
	cmpl $0x2badb002, boot_magic
	je 1f
	PRINT "multiboot magic bad\n"
	ret
1:	PRINT "multiboot magic ok\n"
	mov start_info_ptr, %ebx
	PRINT "flags: "
	mov (%ebx), %eax
	call puthex
	PRINT "\nmem_lower: "
	mov 4(%ebx), %eax
	call putdec
	PRINT "\nmem_upper: "
	mov 8(%ebx), %eax
	call putdec
	PRINT "\ncmdline: "
	mov 16(%ebx), %esi
	mov $256, %ecx
	call putsn
	PRINT "\nloader: "
	mov 64(%ebx), %esi
	mov $32, %ecx
	call putsn
	PRINT "\nmodules: "
	xor %eax, %eax
	testl $8, (%ebx)
	jz 2f
	mov 20(%ebx), %eax
2:	call putdec
	PRINT "\n"
	test %eax, %eax
	jz 3f
	mov 24(%ebx), %edi /* the first module: start, end, string */
	PRINT "module: "
	mov 4(%edi), %eax
	sub (%edi), %eax
	call putdec
	PRINT " bytes, "
	testl $0xfff, (%edi)
	jnz 4f
	PRINT "page-aligned, "
4:	mov 8(%edi), %esi
	mov $32, %ecx
	call putsn
	PRINT ": "
	mov (%edi), %esi
	mov $64, %ecx
	call putsn
	PRINT "\n"

3:	PRINT "mmap: "
	mov 44(%ebx), %eax /* bytes */
	call putdec
	PRINT " bytes\n"
	mov 48(%ebx), %edi
	mov %edi, %edx
	add %eax, %edx /* the end */
5:	cmp %edx, %edi
	jae 6f
	PRINT "mmap: "
	mov 4(%edi), %eax
	push %edx
	mov 8(%edi), %edx
	call puthex64
	PRINT " "
	mov 12(%edi), %eax
	mov 16(%edi), %edx
	call puthex64
	pop %edx
	PRINT " "
	mov 20(%edi), %eax
	call putdec
	PRINT "\n"
	add (%edi), %edi
	add $4, %edi
	jmp 5b
6:	jmp acpi_poweroff
