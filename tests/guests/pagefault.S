/*
 * tests/guests/pagefault.S: #PF delivery. With PAE paging on, the #PF
 * handler prints CR2 and the error code for a read of a not-present page, a
 * supervisor write to a read-only page (CR0.WP), a user read of a supervisor
 * page and a user write to a read-only page, then the guest powers off. The
 * handler resumes at the next step instead of returning.
 */
#include "lib32.inc"

#define PAGE_NP 0x300000 /* not present */
#define PAGE_RO 0x301000 /* present, read-only, user */
#define PAGE_SV 0x302000 /* present, supervisor only */
#define SEL_UCODE 0x1b
#define SEL_UDATA 0x23
#define SEL_TSS 0x28

	.text
	.globl main
main:
	mov %esp, saved_esp
	call idt_fill
	lidt idt_desc
	call gdt_setup
	call paging_setup
	PRINT "paging on\n"

	movl $step2, resume
	mov PAGE_NP, %eax
	PRINT "not reached\n"
step2:
	movl $step3, resume
	movl $1, PAGE_RO
	PRINT "not reached\n"
step3:
	movl $step4, resume
	mov $user_read, %eax
	jmp to_user
step4:
	movl $done, resume
	mov $user_write, %eax
	jmp to_user
done:
	PRINT "done\n"
	jmp acpi_poweroff

/* to_user: continues at %eax in ring 3 with a far return to an outer level. */
to_user:
	/* Ring 0 data segments would become null on the way out. */
	mov $SEL_UDATA, %ecx
	mov %ecx, %ds
	mov %ecx, %es
	push $SEL_UDATA
	push $user_stack_top
	push $SEL_UCODE
	push %eax
	lret

user_read:
	mov PAGE_SV, %eax
1:	jmp 1b
user_write:
	movl $2, PAGE_RO
1:	jmp 1b

pf_handler:
	PRINT "page fault: cr2="
	mov %cr2, %eax
	call puthex
	PRINT " error="
	mov (%esp), %eax
	call puthex
	PRINT " cs="
	mov 8(%esp), %eax
	call puthex
	PRINT "\n"
	mov saved_esp, %esp
	jmp *resume

exc_handler:
	PRINT "unexpected exception\n"
	jmp acpi_poweroff

/* idt_fill: #PF to pf_handler, everything else to exc_handler. */
idt_fill:
	mov $idt, %edi
	mov $exc_handler, %eax
	mov %eax, %edx
	call idt_fill32
	mov $14, %ecx /* #PF */
	mov $pf_handler, %eax
	jmp idt_gate32

/* gdt_setup: kernel and user segments and a TSS whose ring-0 stack is kstack_top. */
gdt_setup:
	movl $kstack_top, tss + 4 /* esp0 */
	movl $SEL_DATA, tss + 8	  /* ss0 */
	movw $104, tss + 0x66	  /* no I/O bitmap */
	mov $tss, %eax
	movw $0x67, pf_gdt + SEL_TSS	/* limit */
	mov %ax, pf_gdt + SEL_TSS + 2	/* base 15:0 */
	shr $16, %eax
	mov %al, pf_gdt + SEL_TSS + 4	/* base 23:16 */
	movb $0x89, pf_gdt + SEL_TSS + 5 /* present, 32-bit TSS available */
	movb $0, pf_gdt + SEL_TSS + 6
	mov %ah, pf_gdt + SEL_TSS + 7	/* base 31:24 */
	lgdt pf_gdt_desc
	mov $SEL_TSS, %ax
	ltr %ax
	ret

/*
 * paging_setup: PAE paging identity mapping 4 MiB with 4 KiB user pages,
 * except the three test pages.
 */
paging_setup:
	xor %ecx, %ecx
1:	mov %ecx, %eax
	shl $12, %eax
	or $7, %eax /* present, writable, user */
	mov %eax, pt(, %ecx, 8)
	movl $0, pt + 4(, %ecx, 8)
	inc %ecx
	cmp $1024, %ecx
	jb 1b
	movl $0, pt + (PAGE_NP >> 12) * 8
	movl $PAGE_RO | 5, pt + (PAGE_RO >> 12) * 8
	movl $PAGE_SV | 3, pt + (PAGE_SV >> 12) * 8
	movl $pt + 7, pd
	movl $pt + 4096 + 7, pd + 8
	movl $pd + 1, pdpt /* PAE PDPTEs have no R/W or U/S bits */
	mov $pdpt, %eax
	mov %eax, %cr3
	mov %cr4, %eax
	or $0x20, %eax /* PAE */
	mov %eax, %cr4
	mov %cr0, %eax
	or $0x80010000, %eax /* PG, WP */
	mov %eax, %cr0
	ret

	.data
	.balign 8
pf_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff /* 0x08: flat 32-bit code */
	.quad 0x00cf92000000ffff /* 0x10: flat data */
	.quad 0x00cffa000000ffff /* 0x18: user code, DPL 3 */
	.quad 0x00cff2000000ffff /* 0x20: user data, DPL 3 */
	.quad 0			 /* 0x28: the TSS, filled in */
pf_gdt_end:
pf_gdt_desc:
	.word pf_gdt_end - pf_gdt - 1
	.long pf_gdt
idt_desc:
	.word 256 * 8 - 1
	.long idt

	.bss
	.balign 4096
pdpt:
	.skip 4096
pd:
	.skip 4096
pt:
	.skip 8192
idt:
	.skip 256 * 8
tss:
	.skip 104
resume:
	.long 0
saved_esp:
	.long 0
	.balign 16
	.skip 4096
kstack_top:
	.skip 4096
user_stack_top:
