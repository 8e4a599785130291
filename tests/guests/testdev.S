/*
 * tests/guests/testdev.S: kvm-unit-tests' test devices (--testdev), from a
 * multiboot guest as the suite's are: fw_cfg's signature, CPU count and
 * RAM size, an unknown item and reads past an item's end; the pc-testdev
 * latch at every width and its memory-like MMIO; then isa-debug-exit with
 * 0x2a, which ends kite with status 0x55. Without --testdev the ports read
 * as nothing is there and the guest powers off.
 */
#define MULTIBOOT_GUEST
#include "lib32.inc"

#define FW_CFG_CTL 0x510
#define FW_CFG_DATA 0x511
#define IOMEM 0xff000000

	.text
	.globl main
main:
	/* fw_cfg item 0: "QEMU" */
	mov $FW_CFG_CTL, %dx
	xor %eax, %eax
	out %ax, %dx
	mov $FW_CFG_DATA, %dx
	mov $4, %ecx
	mov $sig, %edi
1:	in %dx, %al
	mov %al, (%edi)
	inc %edi
	dec %ecx
	jnz 1b
	cmpl $0x554d4551, sig /* "QEMU" */
	je 2f
	PRINT "no test devices\n"
	jmp acpi_poweroff

2:	PRINT "fw_cfg signature: QEMU\ncpus: "
	mov $5, %eax /* FW_CFG_NB_CPUS, two bytes */
	mov $2, %ecx
	call fw_cfg_read
	call putdec
	PRINT "\nram: "
	mov $3, %eax /* FW_CFG_RAM_SIZE, the low four of eight bytes */
	mov $4, %ecx
	call fw_cfg_read
	call puthex
	PRINT "\nunknown item: "
	mov $0x1234, %eax
	mov $4, %ecx
	call fw_cfg_read
	call puthex
	PRINT "\npast the end: "
	mov $5, %eax
	mov $4, %ecx /* two bytes of item, then zeros */
	call fw_cfg_read
	call puthex
	PRINT "\n"

	/* The latch: a dword in, its bytes out; a byte in through 0xe8, the dword out. */
	mov $0xe0, %dx
	mov $0x12345678, %eax
	out %eax, %dx
	mov $0xe2, %dx
	in %dx, %al
	PRINT "latch byte 2: "
	movzbl %al, %eax
	call puthex
	mov $0xe9, %dx
	mov $0xab, %al
	out %al, %dx
	mov $0xe0, %dx
	in %dx, %eax
	PRINT "\nlatch: "
	call puthex
	mov $0xe0, %dx
	in %dx, %ax
	PRINT "\nlatch word: "
	movzwl %ax, %eax
	call puthex

	/* Memory-like MMIO: what is written reads back, at any width. */
	movl $0xcafef00d, IOMEM + 0x100
	movb $0x11, IOMEM + 0xffff
	PRINT "\niomem: "
	mov IOMEM + 0x100, %eax
	call puthex
	PRINT " "
	movzwl IOMEM + 0x102, %eax
	call puthex
	PRINT " "
	movzbl IOMEM + 0xffff, %eax
	call puthex
	PRINT "\n"

	PRINT "exit 0x2a\n"
	mov $0xf4, %dx
	mov $0x2a, %eax
	out %eax, %dx
	PRINT "still running after isa-debug-exit\n"
	jmp acpi_poweroff

/* fw_cfg_read: item %ax, %ecx (1-4) bytes little-endian into %eax. */
fw_cfg_read:
	push %edx
	push %ebx
	push %esi
	push %ecx
	mov $FW_CFG_CTL, %dx
	out %ax, %dx
	mov $FW_CFG_DATA, %dx
	xor %ebx, %ebx
	mov %ecx, %esi
	xor %ecx, %ecx /* the next byte's shift */
1:	in %dx, %al
	movzbl %al, %eax
	shl %cl, %eax
	or %eax, %ebx
	add $8, %ecx
	dec %esi
	jnz 1b
	mov %ebx, %eax
	pop %ecx
	pop %esi
	pop %ebx
	pop %edx
	ret

	.bss
sig:	.long 0
