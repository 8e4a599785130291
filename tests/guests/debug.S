/*
 * tests/guests/debug.S: the debug registers and single-step, first in
 * 32-bit code (the interpreter), then in 64-bit code the translator has
 * already made hot. The #DB handler records where each #DB returns to and
 * DR6, clears DR6 and sets RF in the frame (an instruction breakpoint's
 * handler must, or its IRET would hit the breakpoint again); after each
 * case the guest prints the records as offsets from the case's first label.
 */
#include "lib32.inc"
#include "long.inc"

#define MAX_REC 8

/* Clears the records. */
.macro CLEAR
	movl $0, count
.endm

	.text
	.globl main
main:
	mov $idt, %edi
	mov $exc_handler, %eax
	mov %eax, %edx
	call idt_fill32
	mov $1, %ecx
	mov $db_handler, %eax
	call idt_gate32
	lidt idt_desc

	PRINT "32-bit\nDR0 on an instruction:"
	CLEAR
	mov $bp1, %eax
	mov %eax, %dr0
	mov $0x401, %eax /* L0, execute */
	mov %eax, %dr7
bp1:	nop
	nop
	mov $0x400, %eax
	mov %eax, %dr7
	mov $bp1, %edx
	call report

	PRINT "DR1 on a dword, written:"
	CLEAR
	mov $var, %eax
	mov %eax, %dr1
	mov $0x00d00404, %eax /* L1, write, 4 bytes */
	mov %eax, %dr7
wp1:	mov var, %ecx /* a read: no match */
	movl $5, var + 2 /* overlaps the watched dword */
	nop
	mov $0x400, %eax
	mov %eax, %dr7
	mov $wp1, %edx
	call report

	PRINT "DR2 on port 0x80 (CR4.DE):"
	CLEAR
	mov %cr4, %eax
	or $(1 << 3), %eax
	mov %eax, %cr4
	mov $0x80, %eax
	mov %eax, %dr2
	mov $0x02000410, %eax /* L2, I/O, 1 byte */
	mov %eax, %dr7
io1:	in $0x81, %al /* another port: no match */
	out %al, $0x80
	nop
	mov $0x400, %eax
	mov %eax, %dr7
	mov $io1, %edx
	call report

	PRINT "DR7.GD, then MOV DR6:"
	CLEAR
	mov $0x2400, %eax
	mov %eax, %dr7
gd1:	mov %dr6, %eax /* faults first, runs after the handler: GD is clear then */
	nop
	mov $gd1, %edx
	call report

	PRINT "INT1 (icebp):"
	CLEAR
ic1:	.byte 0xf1
	nop
	mov $ic1, %edx
	call report

	PRINT "single-step over STI:"
	CLEAR
	pushf /* the image that ends it: TF and IF clear */
	pushf
	orl $0x100, (%esp)
	popf
st1:	sti /* the shadow holds interrupts, not the #DB */
	nop
	popf
	mov $st1, %edx
	call report

	PRINT "single-step over MOV SS:"
	CLEAR
	pushf
	pushf
	orl $0x100, (%esp)
	popf
ms1:	mov %ss, %ax
	mov %ax, %ss /* its #DB waits for the next instruction's */
	nop
	popf
	mov $ms1, %edx
	call report

	PRINT "MOV SS on a watched word, then INT3:"
	CLEAR
	mov $3, %ecx
	mov $bp_handler, %eax
	call idt_gate32
	movw %ss, var
	mov $var, %eax
	mov %eax, %dr1
	mov $0x00700404, %eax /* L1, read or write, 2 bytes */
	mov %eax, %dr7
ss1:	mov var, %ss /* its #DB comes after INT3's delivery, before the #BP handler */
	int3
	mov $0x400, %eax
	mov %eax, %dr7
	mov $ss1, %edx
	call report

	mov $long_pml4, %edi
	IDENTITY_MAP long_pml4, long_pdpt, long_pd
	LONG_MODE_ENTER long_pml4, long64

/* #DB: record the return address and DR6, clear DR6, resume with RF. */
db_handler:
	push %eax
	push %ebx
	mov count, %ebx
	cmp $MAX_REC, %ebx
	jae 1f
	mov 8(%esp), %eax
	mov %eax, rec_ip(, %ebx, 4)
	mov %dr6, %eax
	mov %eax, rec_dr6(, %ebx, 4)
	incl count
1:	xor %eax, %eax
	mov %eax, %dr6
	orl $(1 << 16), 16(%esp)
	pop %ebx
	pop %eax
	iret

/* #BP from the MOV SS case: recorded as a DR6 of 0 at its return address. */
bp_handler:
	push %eax
	push %ebx
	mov count, %ebx
	mov 8(%esp), %eax
	mov %eax, rec_ip(, %ebx, 4)
	movl $0, rec_dr6(, %ebx, 4)
	incl count
	pop %ebx
	pop %eax
	iret

/* Prints the records: " +OFFSET/DR6" each, OFFSET from %edx. */
report:
	push %eax
	push %ecx
	xor %ecx, %ecx
1:	cmp count, %ecx
	jae 2f
	PRINT " +"
	mov rec_ip(, %ecx, 4), %eax
	sub %edx, %eax
	call puthex
	PRINT "/"
	mov rec_dr6(, %ecx, 4), %eax
	call puthex
	inc %ecx
	jmp 1b
2:	PRINT "\n"
	pop %ecx
	pop %eax
	ret

exc_handler:
	PRINT "unexpected exception\n"
	jmp acpi_poweroff

	.code64
long64:
	LONG_MODE_SEGMENTS stack_top
	lea idt64(%rip), %rdi
	xor %ecx, %ecx
1:	lea exc64(%rip), %rax
	cmp $1, %ecx
	jne 2f
	lea db64(%rip), %rax
2:	call idt64_gate
	inc %ecx
	cmp $32, %ecx
	jb 1b
	lidt idt64_desc(%rip)

	lea s64(%rip), %rsi
	call puts64
	/* Hot first: from here on the translator runs this loop. */
	mov $200000, %ecx
	call hot

	lea s_bp64(%rip), %rsi
	call puts64
	movl $0, count(%rip)
	lea hot_bp(%rip), %rax
	mov %rax, %dr0
	mov $0x401, %eax
	mov %rax, %dr7
	mov $3, %ecx
	call hot
	mov $0x400, %eax
	mov %rax, %dr7
	lea hot_bp(%rip), %rdx
	call report64

	lea s_wp64(%rip), %rsi
	call puts64
	movl $0, count(%rip)
	lea var(%rip), %rax
	mov %rax, %dr1
	mov $0x00d00404, %eax
	mov %rax, %dr7
	mov $2, %ecx
	call hot
	mov $0x400, %eax
	mov %rax, %dr7
	lea hot_st(%rip), %rdx
	call report64

	lea s_ss64(%rip), %rsi
	call puts64
	movl $0, count(%rip)
	pushfq
	pushfq
	orq $0x100, (%rsp)
	popfq
t1:	add $1, %rax
	add $2, %rax
	popfq
	lea t1(%rip), %rdx
	call report64

	lea s_done(%rip), %rsi
	call puts64
	call reset64

/* ECX rounds of a small loop, which stores to var. */
hot:
1:	add $1, %rbx
hot_bp:	mov %ebx, var(%rip)
hot_st:	dec %ecx
	jnz 1b
	ret

db64:
	push %rax
	push %rbx
	push %rdx
	mov count(%rip), %ebx
	cmp $MAX_REC, %ebx
	jae 1f
	mov 24(%rsp), %rax
	lea rec_ip(%rip), %rdx
	mov %eax, (%rdx, %rbx, 4)
	mov %dr6, %rax
	lea rec_dr6(%rip), %rdx
	mov %eax, (%rdx, %rbx, 4)
	incl count(%rip)
1:	xor %eax, %eax
	mov %rax, %dr6
	orq $(1 << 16), 40(%rsp)
	pop %rdx
	pop %rbx
	pop %rax
	iretq

/* report64: the records, as report does, offsets from %rdx (low 32 bits). */
report64:
	push %rax
	push %rcx
	push %rsi
	xor %ecx, %ecx
1:	cmp count(%rip), %ecx
	jae 2f
	mov $' ', %al
	call putc64
	mov $'+', %al
	call putc64
	lea rec_ip(%rip), %rsi
	mov (%rsi, %rcx, 4), %eax
	sub %edx, %eax
	call puthex64_4
	mov $'/', %al
	call putc64
	lea rec_dr6(%rip), %rsi
	mov (%rsi, %rcx, 4), %eax
	call puthex64_4
	inc %ecx
	jmp 1b
2:	mov $'\n', %al
	call putc64
	pop %rsi
	pop %rcx
	pop %rax
	ret

/* puthex64_4: the low 16 bits of EAX, 4 hex digits. */
puthex64_4:
	push %rax
	push %rcx
	push %rdx
	mov %eax, %edx
	mov $4, %ecx
1:	rol $4, %dx
	mov %edx, %eax
	and $0xf, %eax
	add $'0', %eax
	cmp $'9', %eax
	jbe 2f
	add $('a' - '0' - 10), %eax
2:	call putc64
	dec %ecx
	jnz 1b
	pop %rdx
	pop %rcx
	pop %rax
	ret

exc64:
	lea s_exc(%rip), %rsi
	call puts64
	call reset64

	.section .rodata, "a"
s64:	.asciz "64-bit, translated\n"
s_bp64:	.asciz "DR0 in a hot loop, 3 rounds:"
s_wp64:	.asciz "DR1 on its store, 2 rounds:"
s_ss64:	.asciz "single-step:"
s_done:	.asciz "done\n"
s_exc:	.asciz "unexpected exception\n"
	.balign 8
idt64_desc:
	.word 32 * 16 - 1
	.long idt64, 0

	.bss
	.balign 4096
long_pml4:	.skip 4096
long_pdpt:	.skip 4096
long_pd:	.skip 4096
idt64:	.skip 32 * 16
	.balign 8
var:	.skip 8
count:	.skip 4
rec_ip:	.skip 4 * MAX_REC
rec_dr6:	.skip 4 * MAX_REC

	IDT32
