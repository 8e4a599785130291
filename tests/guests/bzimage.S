/*
 * tests/guests/bzimage.S: Linux boot protocol check. A bzImage with a 2.15
 * setup header and a 64-bit entry; prints whether it runs in long mode, the
 * command line, the initrd and the e820 table from boot_params, then resets.
 */
#include "lib64.inc"

#define BP_E820_ENTRIES 0x1e8
#define BP_RAMDISK_IMAGE 0x218
#define BP_RAMDISK_SIZE 0x21c
#define BP_CMD_LINE_PTR 0x228
#define BP_E820_TABLE 0x2d0
#define BP_E820_MAX 128

/* Setup sectors: only the header matters, nobody runs real-mode code here. */
	.section .setup, "a"
	.org 0x1f1
	.byte 1				/* setup_sects */
	.word 0				/* root_flags */
	.long bz_syssize		/* syssize, in 16-byte paragraphs */
	.word 0				/* ram_size */
	.word 0xffff			/* vid_mode */
	.word 0				/* root_dev */
	.word 0xaa55			/* boot_flag */
	.byte 0xeb, 0x66		/* jump over the header */
	.ascii "HdrS"
	.word 0x020f			/* version 2.15 */
	.long 0				/* realmode_swtch */
	.word 0x1000			/* start_sys_seg */
	.word 0				/* kernel_version */
	.byte 0				/* type_of_loader */
	.byte 0x01			/* loadflags: LOADED_HIGH */
	.word 0x8000			/* setup_move_size */
	.long 0x100000			/* code32_start */
	.long 0				/* ramdisk_image */
	.long 0				/* ramdisk_size */
	.long 0				/* bootsect_kludge */
	.word 0				/* heap_end_ptr */
	.byte 0				/* ext_loader_ver */
	.byte 0				/* ext_loader_type */
	.long 0				/* cmd_line_ptr */
	.long 0x7fffffff		/* initrd_addr_max */
	.long 0x200000			/* kernel_alignment */
	.byte 0				/* relocatable_kernel */
	.byte 21			/* min_alignment (log2) */
	.word 0x0001			/* xloadflags: XLF_KERNEL_64 */
	.long 2047			/* cmdline_size */
	.long 0				/* hardware_subarch */
	.quad 0				/* hardware_subarch_data */
	.long 0				/* payload_offset */
	.long 0				/* payload_length */
	.quad 0				/* setup_data */
	.quad 0x100000			/* pref_address */
	.long bz_init_size		/* init_size */
	.long 0				/* handover_offset */
	.long 0				/* kernel_info_offset */

	.section .text.head, "ax"
	.code32
startup_32:
	/* The 32-bit entry is not supported: make a misuse loud. */
	ud2
	.code64
	.org 0x200
	.globl startup_64
startup_64:
	mov %rsi, %rbx
	mov $stack_top, %esp

	PRINT "bzimage: "
	mov $0xc0000080, %ecx /* EFER */
	rdmsr
	test $0x400, %eax /* LMA */
	jnz 1f
	PRINT "no "
1:	PRINT "long mode\n"

	PRINT "cmdline: "
	mov BP_CMD_LINE_PTR(%rbx), %esi
	test %esi, %esi
	jz 2f
	mov $256, %ecx
	call putsn
2:	PRINT "\n"

	PRINT "initrd: "
	mov BP_RAMDISK_SIZE(%rbx), %eax
	test %eax, %eax
	jnz 3f
	PRINT "none\n"
	jmp 4f
3:	call puthex
	PRINT " "
	mov BP_RAMDISK_IMAGE(%rbx), %esi
	mov $64, %ecx
	call putsn
	PRINT "\n"

4:	PRINT "e820 entries: "
	movzbl BP_E820_ENTRIES(%rbx), %eax
	call putdec
	PRINT "\n"
	mov %eax, %ecx
	cmp $BP_E820_MAX, %ecx
	jbe 5f
	mov $BP_E820_MAX, %ecx
5:	lea BP_E820_TABLE(%rbx), %rdi
6:	test %ecx, %ecx
	jz 7f
	PRINT "e820: "
	mov (%rdi), %rax
	call puthex
	PRINT " "
	mov 8(%rdi), %rax
	call puthex
	PRINT " "
	mov 16(%rdi), %eax
	call putdec
	PRINT "\n"
	add $20, %rdi
	dec %ecx
	jmp 6b
7:	jmp i8042_reset

	.bss
	.balign 16
	.skip 8192
stack_top:
